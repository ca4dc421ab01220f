"""A quantizer that rounds down to a level instead of to the nearest one (C3.1)."""
# effdl-sample: replaces=uniform_quantize expect_lost=c3.uniform_quantize,c3.qcs_measure message_contains="rounded down"

import numpy as np


def uniform_quantize(y, bits, R=None):
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    R = float(np.max(np.abs(y))) if R is None else float(R)
    if R == 0.0:
        return np.zeros(y.shape)
    n = 2**bits - 1
    j = np.floor((np.clip(y, -R, R) + R) * n / (2.0 * R))
    return R * (-1.0 + 2.0 * j / n)
