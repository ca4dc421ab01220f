"""DDP communication hooks for assignment C4: you write four of them.

DistributedDataParallel hands each bucket of gradients to a hook, hook(state, bucket), and
uses the tensor in the future the hook returns as every rank's gradient: the average over
the ranks. Write topk_hook, terngrad_hook, allreduce_counted_hook, fp16_counted_hook and
ring_wire_bytes; everything else is given. Every hook adds the bytes of its own rank's
message to state.bytes_sent.

ddp_train.py imports this file, so the same hooks run under torchrun on one machine or
several. Do not add `from __future__ import annotations`: DDP checks the hooks' annotations
(bucket: dist.GradBucket, return torch.futures.Future[torch.Tensor]), and that import would
turn them into strings that fail the check.
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks, powerSGD_hook


def _check_ratio(ratio: float) -> float:
    ratio = float(ratio)
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    return ratio


def topk_count(n: int, ratio: float) -> int:
    """The number of entries top-k keeps: k = ceil(ratio * n), at least 1, at most n.

    ratio * n is rounded to 9 decimals before the ceiling, so that float noise does not add
    an entry (0.1 * 30 is 3.0000000000000004 in floating point; k is 3, not 4).
    """
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    ratio = _check_ratio(ratio)
    return int(min(n, max(1, math.ceil(round(ratio * int(n), 9)))))


@dataclasses.dataclass
class HookState:
    """What a compressing hook keeps between calls, one object per rank.

    process_group: the group to communicate in (None: the default group);
    ratio: top-k keeps ceil(ratio * n) entries of each bucket;
    error_feedback: top-k adds the residual it dropped to the next gradient;
    residuals: one residual per parameter (key: id() of the parameter tensor, shaped flat),
      so they survive DDP regrouping parameters into new buckets after the first step;
    generator: torch.Generator for TernGrad's draws (seed it differently on each rank);
    inner: a torch hook's own state (PowerSGDState) for `powersgd_counted_hook`;
    bytes_sent: total payload this rank has sent, in bytes; calls: buckets handled.
    """

    process_group: Any = None
    ratio: float = 0.01
    error_feedback: bool = True
    residuals: dict = dataclasses.field(default_factory=dict)
    generator: torch.Generator | None = None
    inner: Any = None
    bytes_sent: int = 0
    calls: int = 0


def _group(state: HookState) -> Any:
    return state.process_group if state.process_group is not None else dist.group.WORLD


def _param_keys(bucket: dist.GradBucket) -> list[int]:
    """A stable key for each parameter of the bucket (its tensor's identity in this process)."""
    return [id(p) for p in bucket.parameters()]


def topk_hook(state: HookState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    pg = _group(state)
    nranks = dist.get_world_size(pg)
    flat = bucket.buffer()
    pieces = bucket.gradients()
    ids = _param_keys(bucket)
    if state.error_feedback:
        acc = torch.cat(
            [
                g.detach().flatten() + state.residuals.get(i, torch.zeros(g.numel(), dtype=g.dtype))
                for i, g in zip(ids, pieces)
            ]
        )
    else:
        acc = flat.detach().flatten().clone()
    kk = topk_count(acc.numel(), state.ratio)
    top = torch.topk(acc.abs(), kk).indices
    vals = acc[top].float()
    if state.error_feedback:
        left = acc.clone()
        left[top] = acc[top] - vals.to(acc.dtype)
        for i, chunk in zip(ids, torch.split(left, [g.numel() for g in pieces])):
            state.residuals[i] = chunk.clone()
    payload = torch.cat([vals.view(torch.int32), top.int()])
    state.bytes_sent += 4 * payload.numel()
    state.calls += 1
    bufs = [torch.zeros_like(payload) for _ in range(nranks)]
    fut = dist.all_gather(bufs, payload, group=pg, async_op=True).get_future()

    def combine(_: torch.futures.Future) -> torch.Tensor:
        total = torch.zeros_like(flat)
        for b in bufs:
            total.index_add_(0, b[kk:].long(), b[:kk].view(torch.float32).to(total.dtype))
        return total / nranks

    return fut.then(combine)


def pack_ternary(codes: torch.Tensor) -> torch.Tensor:
    """Pack a 1-D tensor of -1/0/+1 into uint8, four 2-bit codes (value + 1) per byte."""
    c = (codes.to(torch.int16) + 1).to(torch.uint8)
    pad = (-c.numel()) % 4
    if pad:
        c = torch.cat([c, torch.ones(pad, dtype=torch.uint8)])
    c = c.view(-1, 4)
    return c[:, 0] | (c[:, 1] << 2) | (c[:, 2] << 4) | (c[:, 3] << 6)


def unpack_ternary(packed: torch.Tensor, n: int) -> torch.Tensor:
    """Inverse of `pack_ternary`: the first n codes as an int8 tensor of -1/0/+1."""
    shifts = torch.tensor([0, 2, 4, 6], dtype=torch.uint8)
    c = (packed.view(-1, 1) >> shifts) & 3
    return c.reshape(-1)[:n].to(torch.int8) - 1


def terngrad_hook(state: HookState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    pg = _group(state)
    nranks = dist.get_world_size(pg)
    flat = bucket.buffer()
    g = flat.detach()
    n = g.numel()
    smax = g.abs().max()
    draws = torch.rand(n, generator=state.generator, dtype=torch.float64)
    if smax > 0:
        keep = draws < (g.abs() / smax).double()
    else:
        keep = torch.zeros(n, dtype=torch.bool)
    tern = torch.sign(g) * keep
    payload = torch.cat([smax.float().reshape(1).view(torch.uint8), pack_ternary(tern)])
    state.bytes_sent += payload.numel()
    state.calls += 1
    bufs = [torch.zeros_like(payload) for _ in range(nranks)]
    fut = dist.all_gather(bufs, payload, group=pg, async_op=True).get_future()

    def combine(_: torch.futures.Future) -> torch.Tensor:
        total = torch.zeros_like(flat)
        for b in bufs:
            sc = b[:4].view(torch.float32).to(total.dtype)
            total += unpack_ternary(b[4:], n).to(total.dtype) * sc
        return total / nranks

    return fut.then(combine)


def allreduce_counted_hook(
    state: HookState, bucket: dist.GradBucket
) -> torch.futures.Future[torch.Tensor]:
    b = bucket.buffer()
    state.bytes_sent += b.nelement() * b.element_size()
    state.calls += 1
    return default_hooks.allreduce_hook(state.process_group, bucket)


def fp16_counted_hook(
    state: HookState, bucket: dist.GradBucket
) -> torch.futures.Future[torch.Tensor]:
    state.bytes_sent += bucket.buffer().numel() * torch.finfo(torch.float16).bits // 8
    state.calls += 1
    return default_hooks.fp16_compress_hook(state.process_group, bucket)


def powersgd_counted_hook(
    state: HookState, bucket: dist.GradBucket
) -> torch.futures.Future[torch.Tensor]:
    """torch's ``powerSGD_hook`` with ``state.inner`` (a PowerSGDState); counts its payload.

    Before ``start_powerSGD_iter`` PowerSGD all-reduces the whole bucket; afterwards it
    all-reduces the low-rank factors P and Q of each compressed matrix and the uncompressed
    tensors (biases) as they are. PowerSGDState tallies those element counts in
    ``total_numel_after_compression``; the increase during this call, times the element size,
    is what this rank sent (the whole bucket when nothing was tallied).
    """
    inner = state.inner
    buffer = bucket.buffer()
    before = inner.total_numel_after_compression
    fut = powerSGD_hook.powerSGD_hook(inner, bucket)
    added = inner.total_numel_after_compression - before
    state.bytes_sent += (added if added > 0 else buffer.numel()) * buffer.element_size()
    state.calls += 1
    return fut


Hook = Callable[[Any, dist.GradBucket], torch.futures.Future]


HOOK_NAMES = ("allreduce", "fp16", "powersgd", "topk_ef", "topk", "terngrad")


HOOKS: dict[str, Hook] = {
    "allreduce": allreduce_counted_hook,
    "fp16": fp16_counted_hook,
    "powersgd": powersgd_counted_hook,
    "topk_ef": topk_hook,
    "topk": topk_hook,
    "terngrad": terngrad_hook,
}


def make_hook(
    name: str,
    rank: int = 0,
    process_group: Any = None,
    ratio: float = 0.01,
    seed: int = 0,
    powersgd_rank: int = 1,
    powersgd_start_iter: int = 10,
) -> tuple[HookState, Hook]:
    """(state, hook) for one of HOOK_NAMES, ready for ``ddp_model.register_comm_hook``.

    "topk_ef" is top-k with error feedback, "topk" without; ratio is top-k's fraction;
    TernGrad's generator is seeded with (seed, rank) so the ranks draw independently;
    PowerSGD gets ``PowerSGDState(process_group, matrix_approximation_rank=powersgd_rank,
    start_powerSGD_iter=powersgd_start_iter)`` (error feedback on, torch's default).
    """
    if name not in HOOKS:
        raise ValueError(f"unknown hook {name!r}: expected one of {HOOK_NAMES}")
    state = HookState(process_group=process_group, ratio=ratio, error_feedback=name != "topk")
    if name == "terngrad":
        state.generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(rank))
    if name == "powersgd":
        state.inner = powerSGD_hook.PowerSGDState(
            process_group=process_group,
            matrix_approximation_rank=powersgd_rank,
            start_powerSGD_iter=powersgd_start_iter,
            random_seed=seed,
        )
    return state, HOOKS[name]


def ring_wire_bytes(payload: float, world_size: int, collective: str) -> float:
    K = int(world_size)
    per_byte = {"allreduce": 2 * (K - 1) / K, "allgather": K - 1}
    if collective not in per_byte:
        raise ValueError(f"collective must be 'allreduce' or 'allgather', got {collective!r}")
    return float(per_byte[collective] * payload)


HOOK_COLLECTIVE = {
    "allreduce": "allreduce",
    "fp16": "allreduce",
    "powersgd": "allreduce",
    "topk_ef": "allgather",
    "topk": "allgather",
    "terngrad": "allgather",
}
