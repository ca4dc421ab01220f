"""Three true/false answers flipped (1.2, 1.5 and 1.9) (B1)."""
# effdl-sample: replaces=TF_ANSWERS expect_lost=b1.true_false message_contains="7 of 10 correct."

TF_ANSWERS = {
    "1.1": True,
    "1.2": True,
    "1.3": False,
    "1.4": False,
    "1.5": True,
    "1.6": True,
    "1.7": True,
    "1.8": True,
    "1.9": True,
    "1.10": True,
}
