"""Keeps the k largest signed values instead of the k largest magnitudes (A3.2)."""
# effdl-sample: replaces=project_top_k expect_lost=a3.project_top_k,a3.train_prune,a3.extra_two_points message_contains="signed"

import numpy as np


def project_top_k(W, k):
    W = np.asarray(W, dtype=float).reshape(-1)
    keep = np.argsort(W)[len(W) - k :]
    out = np.zeros_like(W)
    out[keep] = W[keep]
    return out
