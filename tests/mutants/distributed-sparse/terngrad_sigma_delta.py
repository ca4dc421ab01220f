"""TernGrad by a sigma-delta accumulator kept across calls (in a default argument): each
entry adds |g_j|/s to its running sum and is kept whenever the sum reaches 1. The keep
frequencies are exact, the draws deterministic and regular (A2.3)."""
# effdl-sample: replaces=terngrad expect_lost=a2.terngrad,a2.train_terngrad,a2.train_tern_clip message_contains="not independent"

import numpy as np


def terngrad(g, s=None, rng=None, _sums={}):  # noqa: B006 - the accumulator is the point
    g = np.asarray(g, dtype=float).reshape(-1)
    s = float(np.abs(g).max()) if s is None else float(s)
    if s == 0:
        return np.zeros_like(g)
    total = _sums.get(g.size, np.zeros(g.size)) + np.minimum(np.abs(g) / s, 1.0)
    keep = total >= 1.0 - 1e-12
    _sums[g.size] = total - keep
    return s * np.sign(g) * keep
