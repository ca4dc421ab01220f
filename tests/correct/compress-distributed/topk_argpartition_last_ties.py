"""Top-k with np.argpartition, indices in no particular order, ties resolved toward the last index (C2.1)."""
# effdl-sample: replaces=topk_compress

import numpy as np


def topk_compress(g, ratio):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    k = topk_count(g.size, ratio)
    reversed_abs = np.abs(g)[::-1]
    order = np.argsort(-reversed_abs, kind="stable")[:k]  # ties: the last index first
    indices = (g.size - 1 - order)[::-1]
    return indices, g[indices]
