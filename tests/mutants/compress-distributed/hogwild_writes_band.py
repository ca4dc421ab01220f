"""A Hogwild update that reads w[idx] only, but writes back the whole stretch
w[min(idx) : max(idx) + 1] (adding zero between the sample's coordinates): a
read-modify-write of coordinates that belong to other processes' samples, which loses their
updates (C5.1; a reviewer's round 14, 5/5 while all of idx lay in one writable page)."""
# effdl-sample: replaces=sgd_update expect_lost=c5.sgd_update message_contains="wrote coordinates outside idx"

import numpy as np


def sgd_update(w, idx, val, y, lr):
    lo, hi = int(idx.min()), int(idx.max()) + 1
    x = np.zeros(hi - lo)
    x[idx - lo] = val
    margin = y * float(val @ w[idx])
    w[lo:hi] -= lr * (-y / (1.0 + np.exp(margin))) * x
