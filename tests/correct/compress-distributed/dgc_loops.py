"""DGC's step, clipping and warm-up written with loops and sorted() (C2.6)."""
# effdl-sample: replaces=clip_by_norm,dgc_sparsity,dgc_step

import math


def clip_by_norm(g, max_norm):
    g = [float(x) for x in __import__("numpy").asarray(g).reshape(-1)]
    norm = math.sqrt(sum(x * x for x in g))
    return [x * max_norm / norm for x in g] if norm > max_norm else g


def dgc_sparsity(epoch, warmup_epochs=4, final_sparsity=0.999):
    if epoch < warmup_epochs:
        density = 1.0
        for _ in range(epoch + 1):
            density /= 4
        return min(1 - density, final_sparsity)
    return final_sparsity


def dgc_step(g, u, v, ratio, momentum=0.9, clip_norm=None, n_workers=1):
    g = [float(x) for x in __import__("numpy").asarray(g).reshape(-1)]
    if clip_norm is not None:
        g = clip_by_norm(g, clip_norm / math.sqrt(n_workers))
    u = [momentum * a + b for a, b in zip(__import__("numpy").asarray(u).reshape(-1), g)]
    v = [a + b for a, b in zip(__import__("numpy").asarray(v).reshape(-1), u)]
    k = topk_count(len(g), ratio)
    chosen = sorted(sorted(range(len(v)), key=lambda i: -abs(v[i]))[:k])
    values = [v[i] for i in chosen]
    for i in chosen:
        u[i] = 0.0
        v[i] = 0.0
    return chosen, values, u, v
