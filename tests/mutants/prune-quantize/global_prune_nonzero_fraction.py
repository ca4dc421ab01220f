"""Global pruning whose percentile is over the counted weights that are not zero yet: right
on a dense net, far too many zeros on one pruned before (iterative pruning) (B3(e))."""
# effdl-sample: replaces=global_prune_by_percentage expect_lost=b3.global_prune message_contains="nonzero weights"

import numpy as np


def global_prune_by_percentage(net, q):
    layers = [
        m
        for name, m in net.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name
    ]
    flat = torch.cat([m.weight.detach().abs().reshape(-1) for m in layers]).numpy()
    threshold = np.percentile(flat[flat != 0], q)
    with torch.no_grad():
        for m in layers:
            m.weight[m.weight.abs() < threshold] = 0.0
