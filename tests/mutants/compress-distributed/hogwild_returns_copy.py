"""A Hogwild update that returns new weights instead of updating the shared ones in place (C5.1)."""
# effdl-sample: replaces=sgd_update expect_lost=c5.sgd_update message_contains="in place"

import numpy as np


def sgd_update(w, idx, val, y, lr):
    w = w.copy()
    margin = y * float(val @ w[idx])
    w[idx] -= lr * (-y / (1.0 + np.exp(margin))) * val
    return w
