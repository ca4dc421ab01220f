"""All of A3's training in float32, updating W in place and logging copies (A3)."""
# effdl-sample: replaces=train_sparse

import numpy as np


def train_sparse(X, y, method, mu=0.02, steps=200, lam=None, threshold=None):
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    mu = np.float32(mu)
    t = np.float32(threshold if threshold is not None else (mu * lam if lam is not None else 0))
    W = np.zeros(X.shape[1], dtype=np.float32)
    W_hist, L_hist = [W.copy()], [float(np.sum((X @ W - y) ** 2))]
    for _ in range(steps):
        sign_before = np.sign(W)
        W -= mu * np.float32(2) * (X.T @ (X @ W - y))
        if method == "prune":
            W[np.argsort(-np.abs(W), kind="stable")[2:]] = 0
        elif method == "l1":
            W -= mu * np.float32(lam) * sign_before
        elif method == "prox":
            W[:] = np.sign(W) * np.maximum(np.abs(W) - t, 0)
        elif method == "trimmed":
            small = np.argsort(np.abs(W), kind="stable")[:3]
            W[small] = np.sign(W[small]) * np.maximum(np.abs(W[small]) - t, 0)
        W_hist.append(W.copy())
        L_hist.append(float(np.sum((X @ W - y) ** 2)))
    return np.array(W_hist), np.array(L_hist, dtype=np.float32)
