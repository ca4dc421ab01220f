"""Returns the gradient with the wrong sign, 2 X^T (y - X W) (A3)."""
# effdl-sample: replaces=loss_and_grad expect_lost=a3.loss_and_grad message_contains="sign"

import numpy as np


def loss_and_grad(W, X, y):
    X = np.asarray(X, dtype=float)
    W = np.asarray(W, dtype=float).reshape(-1)
    r = X @ W - np.asarray(y, dtype=float).reshape(-1)
    return float(r @ r), 2.0 * X.T @ (-r)
