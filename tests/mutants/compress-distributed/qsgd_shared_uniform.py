"""QSGD that rounds every entry with one shared uniform number, so the entries are not independent (C2.3)."""
# effdl-sample: replaces=qsgd_quantize expect_lost=c2.qsgd message_contains="not independent"

import numpy as np


def qsgd_quantize(v, s, rng):
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    u = rng.random()
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return np.zeros(v.shape)
    r = s * np.abs(v) / norm
    level = np.floor(r) + (u < r - np.floor(r))
    return norm * np.sign(v) * level / s
