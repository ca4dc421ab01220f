"""Takes the percentile of the signed weights and prunes w below it, not |w| (B3(b))."""
# effdl-sample: replaces=prune_by_percentage expect_lost=b3.prune_by_percentage message_contains="signed weights"

import numpy as np
import torch


def prune_by_percentage(layer, q):
    weight = layer.weight
    with torch.no_grad():
        values = weight.detach().clone()
        threshold = float(np.percentile(values.cpu().numpy(), q))
        weight[values < threshold] = 0.0
