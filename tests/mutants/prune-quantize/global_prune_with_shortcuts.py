"""Counts the id_mapping shortcuts in the global threshold and prunes them too (B3(e))."""
# effdl-sample: replaces=global_prune_by_percentage expect_lost=b3.global_prune message_contains="id_mapping"

import numpy as np
import torch


def global_prune_by_percentage(net, q):
    weights = [m.weight for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        every = torch.cat([w.detach().abs().flatten() for w in weights])
        threshold = float(np.percentile(every.numpy(), q))
        for w in weights:
            w[w.abs() < threshold] = 0.0
