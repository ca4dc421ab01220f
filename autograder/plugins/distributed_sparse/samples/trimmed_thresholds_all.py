"""Trimmed L1 soft-thresholds every entry instead of only the n_trim smallest (A3.5)."""
# effdl-sample: replaces=trimmed_soft_threshold expect_lost=a3.trimmed_soft_threshold,a3.train_trimmed,a3.extra_two_points

import numpy as np


def trimmed_soft_threshold(v, t, n_trim=3):
    v = np.asarray(v, dtype=float).reshape(-1)
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)
