"""Always thresholds the 3 smallest entries, whatever n_trim says (A3.5)."""
# effdl-sample: replaces=trimmed_soft_threshold expect_lost=a3.trimmed_soft_threshold message_contains="n_trim was ignored"

import numpy as np


def trimmed_soft_threshold(v, t, n_trim=3):
    v = np.asarray(v, dtype=float).reshape(-1)
    small = np.argsort(np.abs(v), kind="stable")[:3]
    out = v.copy()
    out[small] = np.sign(v[small]) * np.maximum(np.abs(v[small]) - t, 0.0)
    return out
