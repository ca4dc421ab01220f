"""Passes q/100 to np.percentile, as if it took a fraction: almost nothing is pruned (B3(b))."""
# effdl-sample: replaces=prune_by_percentage expect_lost=b3.prune_by_percentage message_contains="fraction"

import numpy as np
import torch


def prune_by_percentage(layer, q):
    weight = layer.weight
    with torch.no_grad():
        magnitude = weight.detach().abs()
        threshold = float(np.percentile(magnitude.cpu().numpy(), q / 100))
        weight[magnitude < threshold] = 0.0
