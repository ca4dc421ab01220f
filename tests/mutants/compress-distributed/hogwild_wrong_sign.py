"""A Hogwild update that adds the gradient instead of subtracting it (C5.1)."""
# effdl-sample: replaces=sgd_update expect_lost=c5.sgd_update message_contains="wrong sign"

import numpy as np


def sgd_update(w, idx, val, y, lr):
    margin = y * float(val @ w[idx])
    w[idx] += lr * (-y / (1.0 + np.exp(margin))) * val
