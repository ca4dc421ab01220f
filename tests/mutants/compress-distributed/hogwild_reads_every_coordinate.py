"""A Hogwild update that builds the dense sample and reads all of w for the margin (w @ x),
writing only w[idx]: its numbers are right while no other process writes, but it reads
every coordinate the others are writing (C5.1; a held-out student's kept 5/5 in round 13)."""
# effdl-sample: replaces=sgd_update expect_lost=c5.sgd_update message_contains="read coordinates outside idx"

import numpy as np


def sgd_update(w, idx, val, y, lr):
    x = np.zeros(w.shape[0])
    x[idx] = val
    margin = y * float(w @ x)
    w[idx] -= lr * (-y / (1.0 + np.exp(margin))) * val
