"""Per-layer pruning with a torch.quantile threshold (B3(b))."""
# effdl-sample: replaces=prune_by_percentage


def prune_by_percentage(layer, q):
    w = layer.weight.data
    threshold = torch.quantile(w.abs().flatten(), q / 100.0)
    mask = (w.abs() >= threshold).to(w.dtype)
    layer.weight.data = w * mask
