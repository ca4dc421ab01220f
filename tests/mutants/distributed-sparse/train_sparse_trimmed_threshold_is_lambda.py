"""Given lam, trimmed L1 thresholds by lam instead of t = mu * lam; prox gets it right (A3.5)."""
# effdl-sample: replaces=train_sparse expect_lost=a3.train_trimmed message_contains="lambda instead of mu * lambda"

import numpy as np


def train_sparse(X, y, method, mu=0.02, steps=200, lam=None, threshold=None):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    W = np.zeros(X.shape[1])
    W_hist, L_hist = [W.copy()], [float(np.sum((X @ W - y) ** 2))]
    for _ in range(steps):
        v = W - mu * 2.0 * X.T @ (X @ W - y)
        if method == "gd":
            W_new = v
        elif method == "prune":
            W_new = np.zeros_like(v)
            keep = np.argsort(-np.abs(v), kind="stable")[:2]
            W_new[keep] = v[keep]
        elif method == "l1":
            W_new = v - mu * lam * np.sign(W)
        elif method == "prox":
            t = threshold if threshold is not None else mu * lam
            W_new = np.sign(v) * np.maximum(np.abs(v) - t, 0.0)
        else:
            t = threshold if threshold is not None else lam
            W_new = v.copy()
            small = np.argsort(np.abs(v), kind="stable")[:3]
            W_new[small] = np.sign(v[small]) * np.maximum(np.abs(v[small]) - t, 0.0)
        W = W_new
        W_hist.append(W.copy())
        L_hist.append(float(np.sum((X @ W - y) ** 2)))
    return np.array(W_hist), np.array(L_hist)
