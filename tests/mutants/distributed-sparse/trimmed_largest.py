"""Soft-thresholds the n_trim LARGEST entries, the ones trimmed L1 should spare (A3.5)."""
# effdl-sample: replaces=trimmed_soft_threshold expect_lost=a3.trimmed_soft_threshold,a3.train_trimmed,a3.extra_two_points message_contains="LARGEST"

import numpy as np


def trimmed_soft_threshold(v, t, n_trim=3):
    v = np.asarray(v, dtype=float).reshape(-1)
    big = np.argsort(-np.abs(v), kind="stable")[:n_trim]
    out = v.copy()
    out[big] = np.sign(v[big]) * np.maximum(np.abs(v[big]) - t, 0.0)
    return out
