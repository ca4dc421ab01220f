"""Rescales the whole gradient to norm T instead of clipping each entry (A2.4)."""
# effdl-sample: replaces=clip_gradient expect_lost=a2.clip_gradient,a2.train_clip,a2.train_tern_clip message_contains="elementwise"

import numpy as np


def clip_gradient(g, T):
    g = np.asarray(g, dtype=float).reshape(-1)
    norm = np.linalg.norm(g)
    return g if norm <= T else g * (T / norm)
