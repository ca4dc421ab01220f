"""QSGD rounding each entry up with probability (r_i - l_i) + 0.02: biased, yet too little
for one entry's frequency over 6,000 draws (round 14). The pooled rounding-ups of a wide v
over 200 draws see it."""
# effdl-sample: replaces=qsgd_quantize expect_lost=c2.qsgd message_contains="the draws are biased"

import numpy as np


def qsgd_quantize(v, s, rng):
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    u = rng.random(v.shape[0])
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return np.zeros(v.shape)
    r = s * np.abs(v) / norm
    level = np.floor(r)
    p = r - level
    level += u < np.where(p > 0, np.minimum(p + 0.02, 1.0), p)
    return norm * np.sign(v) * level / s
