"""A worker's message Phi g without the quantizer (C3.1)."""
# effdl-sample: replaces=qcs_measure expect_lost=c3.qcs_measure message_contains="not quantized"

import numpy as np


def qcs_measure(g, Phi, bits):
    return np.asarray(Phi, dtype=np.float64) @ np.asarray(g, dtype=np.float64).reshape(-1)
