"""Applies each worker's gradient as soon as it is computed: per-sample updates (A2.2)."""
# effdl-sample: replaces=train_distributed expect_lost=a2.train_plain,a2.train_terngrad,a2.train_clip,a2.train_tern_clip message_contains="per-sample"

import numpy as np


def train_distributed(X, y, lr=0.1, steps=50, clip=None, ternary=False, scaler=None, rng=None):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    rng = np.random.default_rng(rng)
    n = len(y)
    W = np.zeros(X.shape[1])
    W_hist = [W.copy()]
    for _ in range(steps):
        for i in range(n):
            g = 2.0 * X[i] * (X[i] @ W - y[i])
            if clip is not None:
                g = np.clip(g, -clip, clip)
            if ternary:
                s = scaler if scaler is not None else float(np.abs(g).max())
                g = s * np.sign(g) * (rng.random(g.shape) < np.abs(g) / s) if s else g * 0
            W = W - lr * g / n
        W_hist.append(W.copy())
    W_hist = np.array(W_hist)
    return W_hist, (W_hist[1:] @ X.T - y) ** 2
