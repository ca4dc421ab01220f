"""TernGrad keeps an entry with probability 1 - |g_j|/s (C2.4)."""
# effdl-sample: replaces=terngrad expect_lost=c2.terngrad message_contains="inverted"

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    s = float(np.max(np.abs(g))) if s is None else float(s)
    rng = np.random.default_rng(rng)
    u = rng.random(g.size)
    if s == 0:
        return np.zeros(g.shape)
    return s * np.sign(g) * (u < 1 - np.minimum(np.abs(g) / s, 1.0))
