"""Per-layer pruning that zeroes the k smallest |w| found with kthvalue, k = round(q% of n) (B3(b))."""
# effdl-sample: replaces=prune_by_percentage


def prune_by_percentage(layer, q):
    w = layer.weight.detach()
    k = int(round(q / 100.0 * w.numel()))
    if k < 1:
        return
    threshold = w.abs().flatten().kthvalue(k).values
    with torch.no_grad():
        layer.weight.masked_fill_(w.abs() <= threshold, 0.0)
