"""An fp16 hook that sums the ranks' float16 gradients with the all-reduce and divides by
the world size only afterwards, in float32 (C4.1 allows either order; a student's style)."""
# effdl-sample: replaces=fp16_counted_hook in=comm_hooks.py


def fp16_counted_hook(
    state: HookState, bucket: dist.GradBucket
) -> torch.futures.Future[torch.Tensor]:
    group = _group(state)
    buffer = bucket.buffer()
    half = buffer.to(torch.float16)
    state.bytes_sent += 2 * half.numel()
    state.calls += 1
    work = dist.all_reduce(half, group=group, async_op=True)

    def average(fut):
        total = fut.value()[0].to(torch.float32)
        buffer.copy_(total / dist.get_world_size(group))
        return buffer

    return work.get_future().then(average)
