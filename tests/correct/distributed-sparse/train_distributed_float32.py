"""The parameter-server simulation in float32 throughout, with a preallocated history (A2)."""
# effdl-sample: replaces=train_distributed quick=1

import numpy as np


def train_distributed(X, y, lr=0.1, steps=50, clip=None, ternary=False, scaler=None, rng=None):
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    rng = np.random.default_rng(rng)
    n, d = X.shape
    W_hist = np.zeros((steps + 1, d), dtype=np.float32)
    losses = np.zeros((steps, n), dtype=np.float32)
    W = np.zeros(d, dtype=np.float32)
    for k in range(steps):
        total = np.zeros(d, dtype=np.float32)
        for i in range(n):
            g = np.float32(2.0) * X[i] * (X[i] @ W - y[i])
            if clip is not None:
                g = np.clip(g, -clip, clip).astype(np.float32)
            if ternary:
                s = np.float32(scaler) if scaler is not None else np.abs(g).max()
                if s > 0:
                    g = (s * np.sign(g) * (rng.random(d) < np.abs(g) / s)).astype(np.float32)
            total += g
        W = W - np.float32(lr) * total / np.float32(n)
        W_hist[k + 1] = W
        losses[k] = (X @ W - y) ** 2
    return W_hist, losses
