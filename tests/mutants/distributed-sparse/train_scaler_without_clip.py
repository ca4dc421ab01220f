"""Uses s = T in TernGrad but never clips g into [-T, T] first (HOMEWORK's list) (A2.5)."""
# effdl-sample: replaces=train_distributed expect_lost=a2.train_clip,a2.train_tern_clip message_contains="clipped into [-T, T] first"

import numpy as np


def train_distributed(X, y, lr=0.1, steps=50, clip=None, ternary=False, scaler=None, rng=None):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    rng = np.random.default_rng(rng)
    W = np.zeros(X.shape[1])
    W_hist = [W.copy()]
    for _ in range(steps):
        grads = [2.0 * X[i] * (X[i] @ W - y[i]) for i in range(len(y))]
        if ternary:
            out = []
            for g in grads:
                s = scaler if scaler is not None else float(np.abs(g).max())
                out.append(s * np.sign(g) * rng.binomial(1, np.abs(g) / s) if s else 0 * g)
            grads = out
        W = W - lr * np.mean(grads, axis=0)
        W_hist.append(W.copy())
    W_hist = np.array(W_hist)
    return W_hist, (W_hist[1:] @ X.T - y) ** 2
