"""The b-bit quantizer by floor(x + 0.5) on the level index, in float32 (C3.1)."""
# effdl-sample: replaces=uniform_quantize

import numpy as np


def uniform_quantize(y, bits, R=None):
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    R = np.float32(np.abs(y).max() if R is None else R)
    if R == 0:
        return np.zeros(y.shape, dtype=np.float32)
    n = 2**bits - 1
    j = np.floor((np.clip(y, -R, R) + R) / (2 * R) * n + 0.5)
    return R * (2 * j / n - 1)
