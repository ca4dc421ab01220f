"""A Hogwild update that subtracts a dense gradient from all of w, writing every coordinate (C5.1)."""
# effdl-sample: replaces=sgd_update expect_lost=c5.sgd_update message_contains="wrote to coordinates outside idx" public="none: it writes the same values back outside idx, which only the hidden check's read-only pages can see"

import numpy as np


def sgd_update(w, idx, val, y, lr):
    x = np.zeros(w.shape)
    x[idx] = val
    margin = y * float(x @ w)
    w -= lr * (-y / (1.0 + np.exp(margin))) * x
