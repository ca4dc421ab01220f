"""The gradient collapses to a scalar, so every weight moves by the same amount (A2.2)."""
# effdl-sample: replaces=worker_gradient expect_lost=a2.worker_gradient,a2.train_plain,a2.train_terngrad,a2.train_clip,a2.train_tern_clip

import numpy as np


def worker_gradient(W, x, y):
    x = np.asarray(x, dtype=float).reshape(-1)
    W = np.asarray(W, dtype=float).reshape(-1)
    return 2 * (x @ W - y)
