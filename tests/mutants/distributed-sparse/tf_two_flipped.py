"""Two true/false answers flipped (1.2 and 1.9) (A1)."""
# effdl-sample: replaces=TF_ANSWERS expect_lost=a1.true_false message_contains="8 of 10 correct."

TF_ANSWERS = {
    "1.1": False,
    "1.2": False,
    "1.3": False,
    "1.4": False,
    "1.5": False,
    "1.6": False,
    "1.7": True,
    "1.8": False,
    "1.9": False,
    "1.10": True,
}
