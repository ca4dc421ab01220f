"""Returns a pruned copy of the weight and leaves the layer unchanged (B3(b))."""
# effdl-sample: replaces=prune_by_percentage expect_lost=b3.prune_by_percentage message_contains="in place"

import numpy as np


def prune_by_percentage(layer, q):
    w = layer.weight.detach().clone()
    threshold = float(np.percentile(w.abs().numpy(), q))
    w[w.abs() < threshold] = 0.0
    return w
