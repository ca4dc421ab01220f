"""Flips the sign of the residual: 2 x (y - x.W), the gradient of the wrong direction (A2.2)."""
# effdl-sample: replaces=worker_gradient expect_lost=a2.worker_gradient,a2.train_plain,a2.train_terngrad,a2.train_clip,a2.train_tern_clip message_contains="sign"

import numpy as np


def worker_gradient(W, x, y):
    W = np.asarray(W, dtype=float).reshape(-1)
    x = np.asarray(x, dtype=float).reshape(-1)
    return 2.0 * x * (y - x @ W)
