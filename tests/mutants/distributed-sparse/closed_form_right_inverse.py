"""Multiplies by the inverse on the wrong side, y X^-1 (a student mistake in HOMEWORK) (A2.1)."""
# effdl-sample: replaces=closed_form expect_lost=a2.closed_form message_contains="y X^-1" quick=1

import numpy as np


def closed_form(X, y):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(1, -1)
    return (y @ np.linalg.inv(X)).reshape(-1)
