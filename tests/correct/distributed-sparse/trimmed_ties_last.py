"""trimmed_soft_threshold that picks, among tied |v|, the entries of higher index (A3.5)."""
# effdl-sample: replaces=trimmed_soft_threshold

import numpy as np


def trimmed_soft_threshold(v, t, n_trim=3):
    v = np.asarray(v, dtype=float).reshape(-1)
    order = np.lexsort((-np.arange(v.size), np.abs(v)))  # smallest |v| first, then higher index
    small = order[:n_trim]
    out = v.copy()
    out[small] = np.sign(v[small]) * np.maximum(np.abs(v[small]) - t, 0.0)
    return out
