"""An all-reduce hook written by hand that sums the ranks' gradients and never divides by the world size (C4.1)."""
# effdl-sample: replaces=allreduce_counted_hook in=comm_hooks.py expect_lost=c4.counted_hooks message_contains="not divided by the world size"


def allreduce_counted_hook(
    state: HookState, bucket: dist.GradBucket
) -> torch.futures.Future[torch.Tensor]:
    buffer = bucket.buffer()
    state.bytes_sent += buffer.numel() * buffer.element_size()
    state.calls += 1
    work = dist.all_reduce(buffer, group=_group(state), async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])
