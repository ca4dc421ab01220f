"""Answers True to every true/false item (C1)."""
# effdl-sample: replaces=TF_ANSWERS expect_lost=c1.true_false message_contains="4 of 10 correct."

TF_ANSWERS = {f"1.{i}": True for i in range(1, 11)}
