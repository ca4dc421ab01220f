"""TF_ANSWERS written with 'T'/'F' strings and integer keys (A1)."""
# effdl-sample: replaces=TF_ANSWERS

TF_ANSWERS = {
    1.1: "F",
    1.2: "T",
    1.3: "F",
    1.4: "F",
    1.5: "F",
    1.6: "F",
    1.7: "T",
    1.8: "F",
    1.9: "T",
    "1.10": "T",
}
