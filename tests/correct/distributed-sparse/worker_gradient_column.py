"""worker_gradient computed with column vectors and returned as a (d, 1) column (A2.2)."""
# effdl-sample: replaces=worker_gradient

import numpy as np


def worker_gradient(W, x, y):
    W = np.asarray(W, dtype=float).reshape(-1, 1)
    x = np.asarray(x, dtype=float).reshape(-1, 1)
    return 2.0 * x * (x.T @ W - y)
