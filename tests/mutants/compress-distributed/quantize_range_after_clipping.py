"""A quantizer that clips y to the given R, then spreads its levels over max |clip(y)|: the
same as the right one when R is below max |y|, but with a roomier R the end levels must be
-R and R (C3.1, round 14)."""
# effdl-sample: replaces=uniform_quantize expect_lost=c3.uniform_quantize message_contains="was used only to clip"

import numpy as np


def uniform_quantize(y, bits, R=None):
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if R is not None:
        y = np.clip(y, -R, R)
    top = float(np.max(np.abs(y)))
    if top == 0.0:
        return np.zeros(y.shape)
    n = 2**bits - 1
    return top * (-1.0 + 2.0 * np.rint((y + top) * n / (2.0 * top)) / n)
