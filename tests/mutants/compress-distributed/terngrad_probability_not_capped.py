"""TernGrad drawing rng.binomial(1, |g_j| / s) without capping the probability at 1: fine
while s is at least max |g|, a ValueError for a given s below it (C2.4, round 14)."""
# effdl-sample: replaces=terngrad expect_lost=c2.terngrad message_contains="was not capped"

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    s = float(np.max(np.abs(g))) if s is None else float(s)
    if s == 0:
        return np.zeros(g.shape)
    return s * np.sign(g) * rng.binomial(1, np.abs(g) / s)
