"""Top-k, decompress and 1-bit written with torch, returning tensors (C2.1, C2.2)."""
# effdl-sample: replaces=topk_compress,topk_decompress,onebit_compress

import torch


def topk_compress(g, ratio):
    t = torch.as_tensor(g, dtype=torch.float64).reshape(-1)
    k = topk_count(t.numel(), ratio)
    _, idx = torch.topk(t.abs(), k)
    idx = torch.sort(idx).values
    return idx, t[idx]


def topk_decompress(indices, values, n):
    out = torch.zeros(int(n), dtype=torch.float64)
    out[torch.as_tensor(indices, dtype=torch.long)] = torch.as_tensor(values, dtype=torch.float64)
    return out


def onebit_compress(g):
    t = torch.as_tensor(g, dtype=torch.float64).reshape(-1)
    bits = t >= 0
    pos = float(t[bits].mean()) if bool(bits.any()) else 0.0
    neg = float(t[~bits].mean()) if bool((~bits).any()) else 0.0
    return bits, pos, neg
