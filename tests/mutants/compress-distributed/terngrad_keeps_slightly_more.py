"""TernGrad that keeps every random entry with probability |g_j|/s + 0.02: biased, yet too
little for one entry's frequency over 6,000 draws to show (round 13 found its like in A2.3).
Only the pooled keeps of a wide g over 200 draws see it."""
# effdl-sample: replaces=terngrad expect_lost=c2.terngrad message_contains="the draws are biased"

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    if s is None:
        s = float(np.max(np.abs(g)))
    rng = np.random.default_rng(rng)
    u = rng.random(g.size)
    if s == 0:
        return np.zeros(g.shape)
    p = np.minimum(np.abs(g) / s, 1.0)
    p = np.where((p > 0) & (p < 1), np.minimum(p + 0.02, 1.0), p)
    return s * np.sign(g) * (u < p)
