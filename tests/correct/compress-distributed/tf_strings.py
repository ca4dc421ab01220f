"""The true/false key written as "T"/"F" strings (C1)."""
# effdl-sample: replaces=TF_ANSWERS

TF_ANSWERS = {
    "1.1": "F",
    "1.2": "T",
    "1.3": "F",
    "1.4": "T",
    "1.5": "F",
    "1.6": "F",
    "1.7": "F",
    "1.8": "T",
    "1.9": "T",
    "1.10": "F",
}
