"""Global pruning with torch.nn.utils.prune.global_unstructured, left reparametrized (B3(e))."""
# effdl-sample: replaces=global_prune_by_percentage


def global_prune_by_percentage(net, q):
    from torch.nn.utils import prune

    params = [
        (module, "weight")
        for name, module in net.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and "id_mapping" not in name
    ]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=q / 100)
