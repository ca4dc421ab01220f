"""Sums the gradient's entries, so it collapses to a scalar and all weights move together (A2.2)."""
# effdl-sample: replaces=worker_gradient expect_lost=a2.worker_gradient,a2.train_plain,a2.train_terngrad,a2.train_clip,a2.train_tern_clip message_contains="collapsed" quick=1

import numpy as np


def worker_gradient(W, x, y):
    W = np.asarray(W, dtype=float).reshape(-1)
    x = np.asarray(x, dtype=float).reshape(-1)
    return float(np.sum(2.0 * x * (x @ W - y)))
