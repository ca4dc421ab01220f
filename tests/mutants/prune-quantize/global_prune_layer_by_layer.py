"""Prunes each counted layer to q percent with its own threshold: not global (B3(e))."""
# effdl-sample: replaces=global_prune_by_percentage expect_lost=b3.global_prune message_contains="global threshold"

import torch


def global_prune_by_percentage(net, q):
    for name, module in net.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and "id_mapping" not in name:
            w = module.weight
            with torch.no_grad():
                threshold = torch.quantile(w.detach().abs().flatten(), q / 100)
                w[w.abs() < threshold] = 0.0
