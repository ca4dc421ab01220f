"""QSGD that rounds every level to the nearest one instead of at random: a biased quantizer (C2.3)."""
# effdl-sample: replaces=qsgd_quantize expect_lost=c2.qsgd message_contains="rounding to the nearest level"

import numpy as np


def qsgd_quantize(v, s, rng):
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return np.zeros(v.shape)
    level = np.round(s * np.abs(v) / norm)
    return norm * np.sign(v) * level / s
