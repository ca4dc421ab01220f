"""Solves X^T W = y instead of X W = y (rows and columns of the data swapped) (A2.1)."""
# effdl-sample: replaces=closed_form expect_lost=a2.closed_form message_contains="transpose"

import numpy as np


def closed_form(X, y):
    return np.linalg.solve(np.asarray(X, dtype=float).T, np.asarray(y, dtype=float))
