"""Per-layer pruning with `<=` at the percentile instead of `<` (a tie convention) (B3(b))."""
# effdl-sample: replaces=prune_by_percentage quick=1


def prune_by_percentage(layer, q):
    weight = layer.weight
    with torch.no_grad():
        threshold = np.percentile(weight.detach().abs().cpu().numpy(), q)
        weight[weight.abs() <= float(threshold)] = 0.0
