"""A TernGrad hook that draws its codes with torch.bernoulli and state.generator (C4.1)."""
# effdl-sample: replaces=terngrad_hook in=comm_hooks.py


def terngrad_hook(state: HookState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    group = _group(state)
    world = dist.get_world_size(group)
    grad = bucket.buffer()
    g = grad.detach().to(torch.float64)
    n = g.numel()
    s = g.abs().max()
    prob = g.abs() / s if s > 0 else torch.zeros_like(g)
    codes = torch.bernoulli(prob, generator=state.generator) * torch.sign(g)
    message = torch.cat([s.to(torch.float32).reshape(1).view(torch.uint8), pack_ternary(codes)])
    state.bytes_sent += message.numel()
    gathered = [torch.empty_like(message) for _ in range(world)]
    work = dist.all_gather(gathered, message, group=group, async_op=True)

    def average(fut):
        out = torch.zeros_like(grad)
        for m in gathered:
            out += unpack_ternary(m[4:], n).to(out.dtype) * m[:4].view(torch.float32).to(out.dtype)
        return out / world

    return work.get_future().then(average)
