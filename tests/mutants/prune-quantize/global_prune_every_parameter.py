"""Global pruning over net.parameters(): biases and batch-norm parameters are pruned too (B3(e))."""
# effdl-sample: replaces=global_prune_by_percentage expect_lost=b3.global_prune message_contains="every parameter was pruned"


def global_prune_by_percentage(net, q):
    params = list(net.parameters())
    flat = torch.cat([p.detach().abs().flatten() for p in params])
    threshold = float(np.percentile(flat.numpy(), q))
    with torch.no_grad():
        for p in params:
            p[p.abs() < threshold] = 0.0
