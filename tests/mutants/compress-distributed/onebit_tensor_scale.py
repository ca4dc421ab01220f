"""1-bit quantization with one per-tensor scale mean|g| instead of the two group means (C2.2)."""
# effdl-sample: replaces=onebit_compress expect_lost=c2.onebit_compress message_contains="one per-tensor scale"

import numpy as np


def onebit_compress(g):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    scale = float(np.mean(np.abs(g)))
    return g >= 0, scale, -scale
