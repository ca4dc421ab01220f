"""QSGD drawing one rng.uniform() per entry in a loop, float32 output (C2.3)."""
# effdl-sample: replaces=qsgd_quantize

import math

import numpy as np


def qsgd_quantize(v, s, rng):
    v = [float(x) for x in np.asarray(v).reshape(-1)]
    norm = math.sqrt(sum(x * x for x in v))
    out = np.zeros(len(v), dtype=np.float32)
    if norm == 0:
        return out
    for i, x in enumerate(v):
        r = s * abs(x) / norm
        level = math.floor(r)
        if rng.uniform() < r - level:
            level += 1
        out[i] = math.copysign(norm * level / s, x) if level else 0.0
    return out
