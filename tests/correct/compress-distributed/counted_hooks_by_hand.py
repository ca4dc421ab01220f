"""The all-reduce and fp16 hooks written by hand, without torch's default hooks (C4.1)."""
# effdl-sample: replaces=allreduce_counted_hook,fp16_counted_hook in=comm_hooks.py


def allreduce_counted_hook(
    state: HookState, bucket: dist.GradBucket
) -> torch.futures.Future[torch.Tensor]:
    group = _group(state)
    buffer = bucket.buffer()
    state.bytes_sent += 4 * buffer.numel()
    buffer.div_(dist.get_world_size(group))
    work = dist.all_reduce(buffer, group=group, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


def fp16_counted_hook(
    state: HookState, bucket: dist.GradBucket
) -> torch.futures.Future[torch.Tensor]:
    group = _group(state)
    buffer = bucket.buffer()
    half = buffer.to(torch.float16).div_(dist.get_world_size(group))
    state.bytes_sent += half.numel() * half.element_size()
    work = dist.all_reduce(half, group=group, async_op=True)

    def back(fut):
        buffer.copy_(fut.value()[0])
        return buffer

    return work.get_future().then(back)
