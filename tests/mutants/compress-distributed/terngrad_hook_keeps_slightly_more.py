"""A TernGrad hook whose random entries are kept with probability |g_j| / s + 0.05 (capped
at 1): each entry's shift is too small for the per-entry frequency test, but every entry
shares it, so the averaged gradient is biased away from the mean (C4.1; a reviewer's
round 14: before the pooled test only the pair test, on some seeds, caught it)."""
# effdl-sample: replaces=terngrad_hook in=comm_hooks.py expect_lost=c4.terngrad_hook message_contains="keep-probabilities are biased"


def terngrad_hook(state: HookState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    group = _group(state)
    world = dist.get_world_size(group)
    grad = bucket.buffer()
    g = grad.detach()
    n = g.numel()
    s = g.abs().max()
    u = torch.rand(n, generator=state.generator, dtype=torch.float64)
    prob = (g.abs() / s).to(torch.float64) if s > 0 else torch.zeros(n, dtype=torch.float64)
    prob = torch.where((prob > 0) & (prob < 1), (prob + 0.05).clamp(max=1.0), prob)
    codes = torch.where(u < prob, torch.sign(g), torch.zeros_like(g))
    scale = s.to(torch.float32).reshape(1)
    message = torch.cat([scale.view(torch.uint8), pack_ternary(codes)])
    state.bytes_sent += message.numel()
    state.calls += 1
    gathered = [torch.empty_like(message) for _ in range(world)]
    work = dist.all_gather(gathered, message, group=group, async_op=True)

    def average(_: torch.futures.Future) -> torch.Tensor:
        out = torch.zeros_like(grad)
        for m in gathered:
            scaler = m[:4].view(torch.float32).to(out.dtype)
            out.add_(unpack_ternary(m[4:], n).to(out.dtype) * scaler)
        return out.div_(world)

    return work.get_future().then(average)
