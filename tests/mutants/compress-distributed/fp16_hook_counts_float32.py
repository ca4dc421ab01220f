"""An fp16 hook that counts 4 bytes per entry, as if it sent float32 (C4.1)."""
# effdl-sample: replaces=fp16_counted_hook in=comm_hooks.py expect_lost=c4.counted_hooks message_contains="float32 sizes were counted"


def fp16_counted_hook(
    state: HookState, bucket: dist.GradBucket
) -> torch.futures.Future[torch.Tensor]:
    state.bytes_sent += 4 * bucket.buffer().numel()
    state.calls += 1
    return default_hooks.fp16_compress_hook(state.process_group, bucket)
