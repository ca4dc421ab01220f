"""Top-k with k = int(ratio * n), rounding down instead of topk_count's ceiling (C2.1)."""
# effdl-sample: replaces=topk_compress expect_lost=c2.topk_compress message_contains="k computed another way"

import numpy as np


def topk_compress(g, ratio):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    k = max(1, int(ratio * g.size))
    indices = np.sort(np.argsort(-np.abs(g), kind="stable")[:k]).astype(np.int64)
    return indices, g[indices]
