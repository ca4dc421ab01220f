"""Prunes q percent of the layer's NONZERO weights instead of q percent of all of them: the
same on a dense layer, far more zeros on a layer pruned before (B3(b), B3(d))."""
# effdl-sample: replaces=prune_by_percentage expect_lost=b3.prune_by_percentage message_contains="nonzero weights"

import numpy as np
import torch


def prune_by_percentage(layer, q):
    weight = layer.weight
    with torch.no_grad():
        magnitude = weight.detach().abs()
        nonzero = magnitude[magnitude > 0].cpu().numpy()
        if nonzero.size == 0:
            return
        threshold = float(np.percentile(nonzero, q))
        weight[magnitude < threshold] = 0.0
