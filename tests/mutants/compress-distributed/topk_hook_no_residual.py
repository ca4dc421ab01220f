"""A top-k hook that computes the residual but never keeps it in state.residuals (C4.1)."""
# effdl-sample: replaces=topk_hook in=comm_hooks.py expect_lost=c4.topk_hook message_contains="error feedback is missing"


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
    k = topk_count(n, state.ratio)
    _, idx = torch.topk(p.abs(), k, sorted=False)
    values = p[idx].to(torch.float32)
    if state.error_feedback:
        residual = p.clone()
        residual[idx] -= values.to(p.dtype)  # what was lost in sending (0 for float32)
        offset = 0
        for _key, g in zip(keys, parts):
            residual[offset : offset + g.numel()]  # computed, never stored
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
