"""project_top_k with np.argpartition (no particular tie order) (A3.2)."""
# effdl-sample: replaces=project_top_k

import numpy as np


def project_top_k(W, k):
    W = np.asarray(W, dtype=float).reshape(-1)
    out = np.zeros_like(W)
    if k <= 0:
        return out
    keep = np.argpartition(-np.abs(W), k - 1)[:k]
    out[keep] = W[keep]
    return out
