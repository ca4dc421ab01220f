"""Top-k keeps the first k entries by index (C2.1)."""
# effdl-sample: replaces=topk_compress expect_lost=c2.topk_compress,c2.dgc_step message_contains="first k entries by index"

import numpy as np


def topk_compress(g, ratio):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    k = topk_count(g.size, ratio)
    indices = np.arange(k, dtype=np.int64)
    return indices, g[indices]
