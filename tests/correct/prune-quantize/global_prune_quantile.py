"""Global pruning with one torch.quantile threshold over the counted layers (B3(e))."""
# effdl-sample: replaces=global_prune_by_percentage


def global_prune_by_percentage(net, q):
    layers = [
        m
        for name, m in net.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name
    ]
    flat = torch.cat([m.weight.detach().abs().reshape(-1) for m in layers])
    threshold = torch.quantile(flat.double(), q / 100.0)
    for m in layers:
        m.weight.data[m.weight.data.abs().double() < threshold] = 0.0
