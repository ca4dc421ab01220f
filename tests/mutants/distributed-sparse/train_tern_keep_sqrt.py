"""TernGrad training whose workers keep entry j with probability sqrt(p) instead of p =
|g_j|/s: every step is still an average of ternary vectors (0 or s sign(g_j)), terngrad
itself is not used, and the final losses spread much like the right ones (found by the
second independent attacker) (A2.3, A2.5)."""
# effdl-sample: replaces=train_distributed expect_lost=a2.train_terngrad,a2.train_tern_clip message_contains="inside the runs"

import numpy as np


def train_distributed(X, y, lr=0.1, steps=50, clip=None, ternary=False, scaler=None, rng=None):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    rng = np.random.default_rng(rng)
    W = np.zeros(X.shape[1])
    W_hist, losses = [W.copy()], []
    for _ in range(steps):
        grads = []
        for i in range(len(y)):
            g = 2.0 * X[i] * (X[i] @ W - y[i])
            if clip is not None:
                g = np.clip(g, -clip, clip)
            if ternary:
                s = scaler if scaler is not None else float(np.abs(g).max())
                p = np.minimum(np.abs(g) / s, 1.0) if s else np.zeros_like(g)
                g = s * np.sign(g) * (rng.random(g.size) < np.sqrt(p))
            grads.append(g)
        W = W - lr * np.mean(grads, axis=0)
        W_hist.append(W.copy())
        losses.append((X @ W - y) ** 2)
    return np.array(W_hist), np.array(losses)
