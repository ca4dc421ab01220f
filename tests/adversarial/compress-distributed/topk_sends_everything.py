"""A 'top-k' that sends every entry, whatever the ratio: right only at ratio 1, which earned
a quarter of C2.1 until that case counted only beside real work (round 14)."""
# effdl-attack: build=cell replaces=topk_compress expect_lost=c2.topk_compress,c2.dgc_step zero=c2.topk_compress feedback_contains="doing nothing gives too" threat=vacuous

import numpy as np


def topk_compress(g, ratio):
    g = np.asarray(g, dtype=np.float64).reshape(-1)
    return np.arange(g.size, dtype=np.int64), g.copy()
