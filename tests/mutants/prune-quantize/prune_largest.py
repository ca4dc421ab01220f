"""Prunes the weights above the (100 - q)-th percentile: the largest ones (B3(b))."""
# effdl-sample: replaces=prune_by_percentage expect_lost=b3.prune_by_percentage message_contains="LARGEST"

import numpy as np
import torch


def prune_by_percentage(layer, q):
    weight = layer.weight
    with torch.no_grad():
        magnitude = weight.detach().abs()
        threshold = float(np.percentile(magnitude.cpu().numpy(), 100 - q))
        weight[magnitude > threshold] = 0.0
