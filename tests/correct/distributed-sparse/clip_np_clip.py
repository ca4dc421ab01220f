"""clip_gradient with np.clip (A2.4)."""
# effdl-sample: replaces=clip_gradient

import numpy as np


def clip_gradient(g, T):
    return np.clip(np.asarray(g, dtype=float).reshape(-1), -T, T)
