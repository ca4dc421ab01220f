"""TernGrad keeps an entry with probability 1 - |g_j|/s instead of |g_j|/s (A2.3)."""
# effdl-sample: replaces=terngrad expect_lost=a2.terngrad,a2.train_terngrad,a2.train_tern_clip

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=float).reshape(-1)
    rng = np.random.default_rng() if rng is None else rng
    s = float(np.max(np.abs(g))) if s is None else s
    if s == 0:
        return np.zeros_like(g)
    keep = rng.random(g.shape) >= np.minimum(np.abs(g) / s, 1.0)
    return s * np.sign(g) * keep
