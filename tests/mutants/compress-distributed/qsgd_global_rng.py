"""QSGD that draws from numpy's global generator, ignoring the rng it is given (C2.3)."""
# effdl-sample: replaces=qsgd_quantize expect_lost=c2.qsgd message_contains="does not draw from the generator"

import numpy as np


def qsgd_quantize(v, s, rng):
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    u = np.random.random(v.size)
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return np.zeros(v.shape)
    r = s * np.abs(v) / norm
    level = np.floor(r) + (u < r - np.floor(r))
    return norm * np.sign(v) * level / s
