"""Keeps the first k entries by index instead of the k largest |W| (HOMEWORK's list) (A3.2)."""
# effdl-sample: replaces=project_top_k expect_lost=a3.project_top_k,a3.train_prune,a3.extra_two_points message_contains="first k entries by index" quick=1

import numpy as np


def project_top_k(W, k):
    W = np.asarray(W, dtype=float).reshape(-1)
    out = np.zeros_like(W)
    out[:k] = W[:k]
    return out
