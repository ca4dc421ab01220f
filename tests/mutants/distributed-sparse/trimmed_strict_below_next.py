"""Thresholds the entries whose |v| is strictly below the (n_trim + 1)-th smallest: right for
distinct magnitudes, but when all |v| are equal (or tie across that place) nothing or too
little is thresholded (A3.5)."""
# effdl-sample: replaces=trimmed_soft_threshold expect_lost=a3.trimmed_soft_threshold,a3.extra_two_points message_contains="exactly n_trim ="

import numpy as np


def trimmed_soft_threshold(v, t, n_trim=3):
    v = np.asarray(v, dtype=float).reshape(-1)
    if n_trim >= v.size:
        return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)
    nxt = np.sort(np.abs(v))[n_trim]
    small = np.abs(v) < nxt
    out = v.copy()
    out[small] = np.sign(v[small]) * np.maximum(np.abs(v[small]) - t, 0.0)
    return out
