"""QSGD that scales the levels by max |v_i| instead of ||v||_2 (C2.3)."""
# effdl-sample: replaces=qsgd_quantize expect_lost=c2.qsgd message_contains="every entry must be ||v||_2 sign(v_i) l / s"

import numpy as np


def qsgd_quantize(v, s, rng):
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    u = rng.random(v.size)
    top = float(np.max(np.abs(v)))
    if top == 0.0:
        return np.zeros(v.shape)
    r = s * np.abs(v) / top
    level = np.floor(r) + (u < r - np.floor(r))
    return top * np.sign(v) * level / s
