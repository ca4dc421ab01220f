"""TernGrad by a Weyl sequence: entry j of the k-th call is kept when frac(k phi + j sqrt 2)
< |g_j|/s, with k counted across calls (in a default argument). Every keep frequency is
exact, but consecutive draws are tied to each other and the rng is never used (A2.3)."""
# effdl-sample: replaces=terngrad expect_lost=a2.terngrad,a2.train_terngrad,a2.train_tern_clip message_contains="called twice with the same inputs and the same seed"

import numpy as np


def terngrad(g, s=None, rng=None, _calls=[0]):  # noqa: B006 - the counter is the point
    g = np.asarray(g, dtype=float).reshape(-1)
    s = float(np.abs(g).max()) if s is None else float(s)
    if s == 0:
        return np.zeros_like(g)
    _calls[0] += 1
    u = (_calls[0] * 0.6180339887498949 + np.arange(g.size) * 0.4142135623730951) % 1.0
    return s * np.sign(g) * (u < np.abs(g) / s)
