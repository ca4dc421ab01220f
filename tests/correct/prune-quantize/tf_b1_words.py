"""B1's TF_ANSWERS with 'True'/'False' words and stray spaces in the keys (B1)."""
# effdl-sample: replaces=TF_ANSWERS

TF_ANSWERS = {
    " 1.1": "True",
    "1.2": "false",
    "1.3": "False",
    "1.4": "no",
    "1.5": "False",
    "1.6 ": "true",
    "1.7": "yes",
    "1.8": True,
    "1.9": False,
    "1.10": 1,
}
