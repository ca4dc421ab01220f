"""Rounds |g_j|/s to 0 or 1 instead of drawing a Bernoulli: deterministic, biased (A2.3)."""
# effdl-sample: replaces=terngrad expect_lost=a2.terngrad,a2.train_terngrad,a2.train_tern_clip message_contains="rounding"

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=float).reshape(-1)
    s = float(np.abs(g).max()) if s is None else float(s)
    if s == 0:
        return np.zeros_like(g)
    return s * np.sign(g) * (np.abs(g) / s >= 0.5)
