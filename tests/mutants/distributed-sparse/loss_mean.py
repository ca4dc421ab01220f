"""Uses the mean squared error (and its gradient) where the problem's L is a sum (A3)."""
# effdl-sample: replaces=loss_and_grad expect_lost=a3.loss_and_grad message_contains="mean"

import numpy as np


def loss_and_grad(W, X, y):
    X = np.asarray(X, dtype=float)
    W = np.asarray(W, dtype=float).reshape(-1)
    r = X @ W - np.asarray(y, dtype=float).reshape(-1)
    return float(np.mean(r**2)), 2.0 * X.T @ r / len(r)
