"""Appends the same array, updated in place, to the history at every step (A2.2)."""
# effdl-sample: replaces=train_distributed expect_lost=a2.train_plain,a2.train_terngrad,a2.train_clip,a2.train_tern_clip message_contains="references" quick=1

import numpy as np


def train_distributed(X, y, lr=0.1, steps=50, clip=None, ternary=False, scaler=None, rng=None):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    rng = np.random.default_rng(rng)
    W = np.zeros(X.shape[1])
    W_hist, losses = [W], []
    for _ in range(steps):
        grads = [worker_gradient(W, X[i], y[i]) for i in range(len(y))]
        if clip is not None:
            grads = [clip_gradient(g, clip) for g in grads]
        if ternary:
            grads = [terngrad(g, scaler, rng) for g in grads]
        W -= lr * np.mean(grads, axis=0)
        W_hist.append(W)
        losses.append((X @ W - y) ** 2)
    return np.array(W_hist), np.array(losses)
