"""project_top_k that resolves ties in |W| toward the higher index (A3.2)."""
# effdl-sample: replaces=project_top_k quick=1

import numpy as np


def project_top_k(W, k):
    W = np.asarray(W, dtype=float).reshape(-1)
    order = np.lexsort((-np.arange(W.size), -np.abs(W)))  # largest |W| first, then higher index
    out = np.zeros_like(W)
    out[order[:k]] = W[order[:k]]
    return out
