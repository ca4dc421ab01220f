"""Zeroes the small entries but does not shrink the large ones: hard thresholding (A3.4)."""
# effdl-sample: replaces=soft_threshold expect_lost=a3.soft_threshold,a3.train_prox,a3.extra_two_points message_contains="hard thresholding"

import numpy as np


def soft_threshold(v, t):
    v = np.asarray(v, dtype=float).reshape(-1)
    return np.where(np.abs(v) > t, v, 0.0)
