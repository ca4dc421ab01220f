"""TernGrad that ignores the rng argument and draws from np.random's global generator (A2.3)."""
# effdl-sample: replaces=terngrad

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=float).reshape(-1)
    if s is None:
        s = np.abs(g).max()
    if s == 0:
        return np.zeros_like(g)
    keep = np.random.rand(g.size) < np.abs(g) / s
    return np.where(keep, s * np.sign(g), 0.0)
