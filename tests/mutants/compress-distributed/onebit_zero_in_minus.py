"""1-bit quantization that puts entries equal to 0 in the '-' group (bits = g > 0) (C2.2)."""
# effdl-sample: replaces=onebit_compress expect_lost=c2.onebit_compress message_contains="entries equal to 0"

import numpy as np


def onebit_compress(g):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    bits = g > 0
    pos = float(g[bits].mean()) if bits.any() else 0.0
    neg = float(g[~bits].mean()) if (~bits).any() else 0.0
    return bits, pos, neg
