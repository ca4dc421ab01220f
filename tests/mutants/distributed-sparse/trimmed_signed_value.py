"""Chooses the trimmed set by signed value instead of magnitude (HOMEWORK's list) (A3.5)."""
# effdl-sample: replaces=trimmed_soft_threshold expect_lost=a3.trimmed_soft_threshold,a3.train_trimmed,a3.extra_two_points message_contains="signed value"

import numpy as np


def trimmed_soft_threshold(v, t, n_trim=3):
    v = np.asarray(v, dtype=float).reshape(-1)
    small = np.argsort(v, kind="stable")[:n_trim]
    out = v.copy()
    out[small] = np.sign(v[small]) * np.maximum(np.abs(v[small]) - t, 0.0)
    return out
