"""Always uses max |g| as the scaler, ignoring the s it is given (A2.3, A2.5)."""
# effdl-sample: replaces=terngrad expect_lost=a2.terngrad,a2.train_tern_clip message_contains="s = 5"

import numpy as np


def terngrad(g, s=None, rng=None):
    g = np.asarray(g, dtype=float).reshape(-1)
    rng = np.random.default_rng() if rng is None else rng
    s = float(np.abs(g).max())
    if s == 0:
        return np.zeros_like(g)
    return s * np.sign(g) * (rng.random(g.shape) < np.abs(g) / s)
