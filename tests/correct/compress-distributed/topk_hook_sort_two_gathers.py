"""A top-k hook with torch.sort, residuals kept per bucket index, values and indices gathered separately (C4.1)."""
# effdl-sample: replaces=topk_hook in=comm_hooks.py


def topk_hook(state: HookState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    group = _group(state)
    world = dist.get_world_size(group)
    grad = bucket.buffer()
    key = ("bucket", bucket.index())
    p = grad.detach().clone()
    if state.error_feedback and key in state.residuals:
        p += state.residuals[key]
    k = topk_count(p.numel(), state.ratio)
    order = torch.sort(p.abs(), descending=True, stable=True).indices
    idx = order[:k].to(torch.int32)
    values = p[idx.long()].to(torch.float32)
    if state.error_feedback:
        rest = p.clone()
        rest[idx.long()] = 0
        state.residuals[key] = rest
    state.bytes_sent += values.numel() * 4 + idx.numel() * 4
    all_values = [torch.empty_like(values) for _ in range(world)]
    all_idx = [torch.empty_like(idx) for _ in range(world)]
    dist.all_gather(all_idx, idx, group=group)
    work = dist.all_gather(all_values, values, group=group, async_op=True)

    def combine(fut):
        out = torch.zeros_like(grad)
        for v, i in zip(all_values, all_idx):
            out.index_add_(0, i.long(), v.to(out.dtype))
        return out / world

    return work.get_future().then(combine)
