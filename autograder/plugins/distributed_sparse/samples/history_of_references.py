"""The history records references to one array updated in place, so every row is the last W (A3)."""
# effdl-sample: replaces=train_sparse expect_lost=a3.train_gd,a3.train_prune,a3.train_l1,a3.train_prox,a3.train_trimmed,a3.extra_two_points

import numpy as np


def train_sparse(X, y, method, mu=0.02, steps=200, lam=None, threshold=None):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    t = threshold if threshold is not None else (mu * lam if lam is not None else None)
    W = np.zeros(X.shape[1])
    W_hist, L_hist = [W], [float(np.sum((X @ W - y) ** 2))]
    for _ in range(steps):
        sign = np.sign(W)
        W -= mu * 2 * X.T @ (X @ W - y)
        if method == "prune":
            W[np.argsort(-np.abs(W), kind="stable")[2:]] = 0
        elif method == "l1":
            W -= mu * lam * sign
        elif method == "prox":
            W[:] = np.sign(W) * np.maximum(np.abs(W) - t, 0)
        elif method == "trimmed":
            small = np.argsort(np.abs(W), kind="stable")[:3]
            W[small] = np.sign(W[small]) * np.maximum(np.abs(W[small]) - t, 0)
        W_hist.append(W)
        L_hist.append(float(np.sum((X @ W - y) ** 2)))
    return np.array(W_hist), np.array(L_hist)
