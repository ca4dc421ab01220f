"""Clips only from above, min(g, T), so large negative entries pass unclipped (A2.4)."""
# effdl-sample: replaces=clip_gradient expect_lost=a2.clip_gradient,a2.train_clip message_contains="[-T, T]"

import numpy as np


def clip_gradient(g, T):
    g = np.asarray(g, dtype=float).reshape(-1)
    return np.minimum(g, T)
