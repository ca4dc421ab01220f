"""TernGrad with one rng.uniform() per entry in a Python loop, keeping when u <= p (A2.3)."""
# effdl-sample: replaces=terngrad

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=float).reshape(-1)
    rng = np.random.default_rng() if rng is None else rng
    s = max(abs(v) for v in g) if s is None else s
    out = np.zeros(len(g))
    for j, value in enumerate(g):
        if s > 0 and rng.uniform(0.0, 1.0) <= min(abs(value) / s, 1.0) and value != 0:
            out[j] = s if value > 0 else -s
    return out
