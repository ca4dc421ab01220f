"""Runs one step fewer than asked: the history has `steps` rows, not steps + 1 (A2.2)."""
# effdl-sample: replaces=train_distributed expect_lost=a2.train_plain,a2.train_terngrad,a2.train_clip,a2.train_tern_clip message_contains="shape (51, 3)"

import numpy as np


def train_distributed(X, y, lr=0.1, steps=50, clip=None, ternary=False, scaler=None, rng=None):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    rng = np.random.default_rng(rng)
    W = np.zeros(X.shape[1])
    W_hist = [W.copy()]
    for _ in range(steps - 1):
        grads = [worker_gradient(W, X[i], y[i]) for i in range(len(y))]
        if clip is not None:
            grads = [clip_gradient(g, clip) for g in grads]
        if ternary:
            grads = [terngrad(g, scaler, rng) for g in grads]
        W = server_step(W, grads, lr)
        W_hist.append(W.copy())
    W_hist = np.array(W_hist)
    return W_hist, (W_hist[1:] @ X.T - y) ** 2
