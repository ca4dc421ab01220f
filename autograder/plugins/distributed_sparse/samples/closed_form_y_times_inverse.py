"""Multiplies y by the inverse from the left side: y X^-1 instead of X^-1 y (A2.1)."""
# effdl-sample: replaces=closed_form expect_lost=a2.closed_form

import numpy as np


def closed_form(X, y):
    return np.asarray(y, dtype=float) @ np.linalg.inv(np.asarray(X, dtype=float))
