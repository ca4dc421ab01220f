"""Global pruning computes one threshold per layer instead of one for all layers (B3(e))."""
# effdl-sample: replaces=global_prune_by_percentage expect_lost=b3.global_prune

import numpy as np
import torch
import torch.nn as nn


def global_prune_by_percentage(net, q):
    for name, module in net.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name:
            w = module.weight
            threshold = np.percentile(w.detach().abs().cpu().numpy(), q)
            with torch.no_grad():
                w[w.abs() < threshold] = 0.0
