"""A quantizer whose levels are 2R / 2^b apart (2^b + 1 levels) instead of 2R / (2^b - 1) (C3.1)."""
# effdl-sample: replaces=uniform_quantize expect_lost=c3.uniform_quantize,c3.qcs_measure message_contains="2R / (2^b - 1) apart"

import numpy as np


def uniform_quantize(y, bits, R=None):
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    R = float(np.max(np.abs(y))) if R is None else float(R)
    if R == 0.0:
        return np.zeros(y.shape)
    n = 2**bits
    j = np.rint((np.clip(y, -R, R) + R) * n / (2.0 * R))
    return R * (-1.0 + 2.0 * j / n)
