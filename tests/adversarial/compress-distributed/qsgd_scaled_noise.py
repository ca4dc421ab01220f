"""A 'QSGD' that multiplies v by uniform noise from rng: nothing like QSGD, but it draws
from rng and maps zeros to zeros, which earned 0.15 of C2.3 (round 14)."""
# effdl-attack: build=cell replaces=qsgd_quantize expect_lost=c2.qsgd zero=c2.qsgd feedback_contains="doing nothing gives too" threat=vacuous

import numpy as np


def qsgd_quantize(v, s, rng):
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    return v * rng.random(v.shape[0])
