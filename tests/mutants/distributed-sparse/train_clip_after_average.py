"""Clips the averaged gradient at the server instead of each worker's gradient (A2.4)."""
# effdl-sample: replaces=train_distributed expect_lost=a2.train_clip message_contains="at the server"

import numpy as np


def train_distributed(X, y, lr=0.1, steps=50, clip=None, ternary=False, scaler=None, rng=None):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    rng = np.random.default_rng(rng)
    W = np.zeros(X.shape[1])
    W_hist = [W.copy()]
    for _ in range(steps):
        grads = [worker_gradient(W, X[i], y[i]) for i in range(len(y))]
        if ternary:
            grads = [terngrad(g, scaler, rng) for g in grads]
        step = np.mean(grads, axis=0)
        if clip is not None:
            step = np.clip(step, -clip, clip)
        W = W - lr * step
        W_hist.append(W.copy())
    W_hist = np.array(W_hist)
    return W_hist, (W_hist[1:] @ X.T - y) ** 2
