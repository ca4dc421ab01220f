"""QSGD drawing its roundings with rng.binomial (C2.3)."""
# effdl-sample: replaces=qsgd_quantize

import numpy as np


def qsgd_quantize(v, s, rng):
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    norm = np.linalg.norm(v)
    if norm == 0:
        return np.zeros_like(v)
    r = s * np.abs(v) / norm
    low = np.floor(r)
    return norm * np.sign(v) * (low + rng.binomial(1, r - low)) / s
