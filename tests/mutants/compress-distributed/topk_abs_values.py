"""Top-k sends |g_i| instead of the signed values (C2.1)."""
# effdl-sample: replaces=topk_compress expect_lost=c2.topk_compress,c2.dgc_step message_contains="the values are |g_i|"

import numpy as np


def topk_compress(g, ratio):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    k = topk_count(g.size, ratio)
    indices = np.sort(np.argsort(-np.abs(g), kind="stable")[:k]).astype(np.int64)
    return indices, np.abs(g[indices])
