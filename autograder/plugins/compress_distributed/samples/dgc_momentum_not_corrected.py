"""DGC that accumulates the raw gradient (v += g) instead of the momentum (v += u) (C2.6)."""
# effdl-sample: replaces=dgc_step expect_lost=c2.dgc_step message_contains="momentum correction is missing"

import math

import numpy as np


def dgc_step(g, u, v, ratio, momentum=0.9, clip_norm=None, n_workers=1):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if clip_norm is not None:
        g = clip_by_norm(g, clip_norm / math.sqrt(n_workers))
    u = momentum * u + g
    v = v + g
    indices, values = topk_compress(v, ratio)
    u[indices] = 0.0
    v[indices] = 0.0
    return indices, values, u, v
