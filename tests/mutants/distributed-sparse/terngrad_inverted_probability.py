"""Keeps an entry with probability 1 - |g_j|/s: the Bernoulli is inverted (A2.3)."""
# effdl-sample: replaces=terngrad expect_lost=a2.terngrad,a2.train_terngrad,a2.train_tern_clip message_contains="inverted" quick=1

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=float).reshape(-1)
    rng = np.random.default_rng() if rng is None else rng
    s = float(np.abs(g).max()) if s is None else float(s)
    if s == 0:
        return np.zeros_like(g)
    b = rng.binomial(1, 1.0 - np.minimum(np.abs(g) / s, 1.0))
    return s * np.sign(g) * b
