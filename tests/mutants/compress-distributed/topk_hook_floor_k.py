"""A top-k hook whose k is floor(ratio * n) instead of ceil (C4.1): right whenever ratio * n
is an integer, as in every hidden hook case until a held-out student's hook kept 8/8 with it
(round 13)."""
# effdl-sample: replaces=topk_hook in=comm_hooks.py expect_lost=c4.topk_hook message_contains="ceil(ratio * n)"


def topk_hook(state: HookState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    group = _group(state)
    world = dist.get_world_size(group)
    grad = bucket.buffer()
    keys = _param_keys(bucket)
    parts = bucket.gradients()
    if state.error_feedback:
        p = torch.cat(
            [
                (g.detach().reshape(-1) + state.residuals[key])
                if key in state.residuals
                else g.detach().reshape(-1).clone()
                for key, g in zip(keys, parts)
            ]
        )
    else:
        p = grad.detach().clone()
    n = p.numel()
    k = max(1, int(state.ratio * n))  # floor: one entry short when ratio * n is no integer
    _, idx = torch.topk(p.abs(), k, sorted=False)
    values = p[idx].to(torch.float32)
    if state.error_feedback:
        residual = p.clone()
        residual[idx] -= values.to(p.dtype)  # what was lost in sending (0 for float32)
        offset = 0
        for key, g in zip(keys, parts):
            state.residuals[key] = residual[offset : offset + g.numel()].clone()
            offset += g.numel()
    message = torch.cat([values.view(torch.int32), idx.to(torch.int32)])
    state.bytes_sent += message.numel() * message.element_size()
    state.calls += 1
    gathered = [torch.empty_like(message) for _ in range(world)]
    work = dist.all_gather(gathered, message, group=group, async_op=True)

    def average(_: torch.futures.Future) -> torch.Tensor:
        out = torch.zeros_like(grad)
        for m in gathered:
            out.index_add_(0, m[k:].long(), m[:k].view(torch.float32).to(out.dtype))
        return out.div_(world)

    return work.get_future().then(average)
