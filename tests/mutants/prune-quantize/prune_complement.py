"""Prunes 100 - q percent of the weights instead of q percent (B3(b))."""
# effdl-sample: replaces=prune_by_percentage expect_lost=b3.prune_by_percentage message_contains="100 - q"

import numpy as np
import torch


def prune_by_percentage(layer, q):
    weight = layer.weight
    with torch.no_grad():
        magnitude = weight.detach().abs()
        threshold = float(np.percentile(magnitude.cpu().numpy(), 100 - q))
        weight[magnitude < threshold] = 0.0
