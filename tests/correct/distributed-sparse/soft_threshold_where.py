"""soft_threshold written with np.where branches (A3.4)."""
# effdl-sample: replaces=soft_threshold

import numpy as np


def soft_threshold(v, t):
    v = np.asarray(v, dtype=float).reshape(-1)
    return np.where(v > t, v - t, np.where(v < -t, v + t, 0.0))
