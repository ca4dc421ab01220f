"""A TernGrad hook that keeps its uniforms on the state and reuses them for every other bucket
(C4.1): each step's keep-frequencies and the ranks' independence are right, but half the steps
repeat the step before."""
# effdl-sample: replaces=terngrad_hook in=comm_hooks.py expect_lost=c4.terngrad_hook message_contains="identical"


def terngrad_hook(state: HookState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    group = _group(state)
    world = dist.get_world_size(group)
    grad = bucket.buffer()
    g = grad.detach()
    n = g.numel()
    s = g.abs().max()
    saved = getattr(state, "saved_uniforms", None)
    if state.calls % 2 == 1 and saved is not None and saved.numel() == n:
        u = saved
    else:
        u = torch.rand(n, generator=state.generator, dtype=torch.float64)
        state.saved_uniforms = u
    prob = (g.abs() / s).to(torch.float64) if s > 0 else torch.zeros(n, dtype=torch.float64)
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
