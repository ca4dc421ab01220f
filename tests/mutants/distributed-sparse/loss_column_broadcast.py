"""Keeps y as a (3, 1) column, so X W - y broadcasts to a matrix and W becomes 5 x 5 (A3)."""
# effdl-sample: replaces=loss_and_grad expect_lost=a3.loss_and_grad message_contains="broadcast"

import numpy as np


def loss_and_grad(W, X, y):
    X = np.asarray(X, dtype=float)
    W = np.asarray(W, dtype=float).reshape(-1)
    y = np.asarray(y, dtype=float).reshape(-1, 1)
    r = X @ W - y
    return float(np.sum(r**2)), 2.0 * X.T @ r
