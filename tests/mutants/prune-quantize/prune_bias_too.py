"""Prunes every parameter of the layer below the weights' threshold, the bias included (B3(b))."""
# effdl-sample: replaces=prune_by_percentage expect_lost=b3.prune_by_percentage message_contains="bias"


def prune_by_percentage(layer, q):
    threshold = np.percentile(layer.weight.detach().abs().numpy(), q)
    with torch.no_grad():
        for param in layer.parameters():
            param[param.abs() < threshold] = 0.0
