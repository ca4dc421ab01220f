"""Top-k that keeps the k largest signed values instead of the k largest |g_i| (C2.1; DGC's step uses it)."""
# effdl-sample: replaces=topk_compress expect_lost=c2.topk_compress,c2.dgc_step message_contains="signed values"

import numpy as np


def topk_compress(g, ratio):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    k = topk_count(g.size, ratio)
    indices = np.sort(np.argsort(-g, kind="stable")[:k]).astype(np.int64)
    return indices, g[indices]
