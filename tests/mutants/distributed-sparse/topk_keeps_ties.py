"""Keeps every entry whose |W| is at least the k-th largest, so a tie at the k-th place
keeps more than k entries (A3.2: "at most 2 weights nonzero")."""
# effdl-sample: replaces=project_top_k expect_lost=a3.project_top_k,a3.extra_two_points message_contains="at most k ="

import numpy as np


def project_top_k(W, k):
    W = np.asarray(W, dtype=float).reshape(-1)
    if k <= 0:
        return np.zeros_like(W)
    kth = np.sort(np.abs(W))[::-1][min(k, W.size) - 1]
    return np.where(np.abs(W) >= kth, W, 0.0)
