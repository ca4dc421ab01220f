"""TernGrad with one scaler s = max |g| over all workers instead of one per worker (A2.3)."""
# effdl-sample: replaces=train_distributed expect_lost=a2.train_terngrad message_contains="one scaler for all workers" quick=1

import numpy as np


def train_distributed(X, y, lr=0.1, steps=50, clip=None, ternary=False, scaler=None, rng=None):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    rng = np.random.default_rng(rng)
    W = np.zeros(X.shape[1])
    W_hist = [W.copy()]
    for _ in range(steps):
        grads = [2.0 * X[i] * (X[i] @ W - y[i]) for i in range(len(y))]
        if clip is not None:
            grads = [np.clip(g, -clip, clip) for g in grads]
        if ternary:
            s = scaler if scaler is not None else max(float(np.abs(g).max()) for g in grads)
            grads = [s * np.sign(g) * (rng.random(g.shape) < np.abs(g) / s) for g in grads]
        W = W - lr * np.mean(grads, axis=0)
        W_hist.append(W.copy())
    W_hist = np.array(W_hist)
    return W_hist, (W_hist[1:] @ X.T - y) ** 2
