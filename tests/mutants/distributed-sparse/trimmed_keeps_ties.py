"""Thresholds every entry whose |v| is at most the n_trim-th smallest, so a tie at that
place thresholds more than n_trim entries (A3.5)."""
# effdl-sample: replaces=trimmed_soft_threshold expect_lost=a3.trimmed_soft_threshold,a3.extra_two_points message_contains="exactly n_trim ="

import numpy as np


def trimmed_soft_threshold(v, t, n_trim=3):
    v = np.asarray(v, dtype=float).reshape(-1)
    if n_trim <= 0:
        return v.copy()
    nth = np.sort(np.abs(v))[min(n_trim, v.size) - 1]
    small = np.abs(v) <= nth
    out = v.copy()
    out[small] = np.sign(v[small]) * np.maximum(np.abs(v[small]) - t, 0.0)
    return out
