"""TernGrad with rng.binomial (C2.4)."""
# effdl-sample: replaces=terngrad

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=float).reshape(-1)
    rng = np.random.default_rng() if rng is None else rng
    s = float(np.max(np.abs(g))) if s is None else float(s)
    if s == 0:
        return np.zeros_like(g)
    return s * np.sign(g) * rng.binomial(1, np.minimum(np.abs(g) / s, 1.0))
