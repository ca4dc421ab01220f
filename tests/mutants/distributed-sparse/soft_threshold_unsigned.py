"""Returns max(|v| - t, 0) and loses the sign of v (A3.4)."""
# effdl-sample: replaces=soft_threshold expect_lost=a3.soft_threshold,a3.train_prox,a3.extra_two_points message_contains="sign"

import numpy as np


def soft_threshold(v, t):
    v = np.asarray(v, dtype=float).reshape(-1)
    return np.maximum(np.abs(v) - t, 0.0)
