"""DGC's step that writes its new u and v into the caller's arrays (C2.6): right numbers,
but the problem says the inputs are not modified."""
# effdl-sample: replaces=dgc_step expect_lost=c2.dgc_step message_contains="in place"

import math

import numpy as np


def dgc_step(g, u, v, ratio, momentum=0.9, clip_norm=None, n_workers=1):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    if clip_norm is not None:
        limit = clip_norm / math.sqrt(n_workers)
        norm = float(np.linalg.norm(g))
        if norm > limit:
            g = g * (limit / norm)
    u_new = momentum * np.asarray(u, dtype=np.float64).reshape(-1) + g
    v_new = np.asarray(v, dtype=np.float64).reshape(-1) + u_new
    k = int(min(g.size, max(1, math.ceil(round(ratio * g.size, 9)))))
    idx = np.sort(np.argsort(-np.abs(v_new), kind="stable")[:k]).astype(np.int64)
    values = v_new[idx].copy()
    u_new[idx] = 0.0
    v_new[idx] = 0.0
    u[...] = u_new.reshape(np.shape(u))
    v[...] = v_new.reshape(np.shape(v))
    return idx, values, u_new, v_new
