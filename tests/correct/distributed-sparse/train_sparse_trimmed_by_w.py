"""Trimmed L1 that picks the 3 entries by |W| before the step, as A3.5's wording allows (A3)."""
# effdl-sample: replaces=train_sparse quick=1

import numpy as np


def train_sparse(X, y, method, mu=0.02, steps=200, lam=None, threshold=None):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    t = threshold if threshold is not None else (mu * lam if lam is not None else None)
    W = np.zeros(X.shape[1])
    W_hist = np.zeros((steps + 1, X.shape[1]))
    for k in range(steps):
        v = W - mu * 2.0 * X.T @ (X @ W - y)
        if method == "gd":
            new = v
        elif method == "prune":
            new = project_top_k(v, 2)
        elif method == "l1":
            new = v - mu * lam * np.sign(W)
        elif method == "prox":
            new = soft_threshold(v, t)
        else:
            small = np.argsort(np.abs(W), kind="stable")[:3]
            new = v.copy()
            new[small] = np.sign(v[small]) * np.maximum(np.abs(v[small]) - t, 0.0)
        W = new
        W_hist[k + 1] = W
    return W_hist, np.sum((W_hist @ X.T - y) ** 2, axis=1)
