"""Data-parallel training over torch.distributed (gloo, CPU) with communication hooks (C4).

Three entry points:

- `run_hook_harness`: a deterministic check of one hook. A 2-process (or K-process) gloo
  group on the loopback interface; the "model" is one parameter vector w whose loss on rank r
  at step t is <w, G[t, r]>, so one backward gives exactly the gradient G[t, r]; the hook is
  registered on DDP and the gradient DDP leaves in w.grad (the hook's average) is returned
  with the bytes the hook reported, as plain lists.
- `run_digits_ddp`: trains a small MLP on scikit-learn's digits (bundled with scikit-learn,
  no download) with K processes on 127.0.0.1, once per hook, and returns bytes per step,
  test accuracy and wall time per hook.
- `main`: the same training as a command. Started by ``torchrun`` (which sets RANK,
  WORLD_SIZE, MASTER_ADDR and MASTER_PORT) each process joins the group through env://,
  unchanged on one machine or several; started plainly it spawns ``--nproc`` local
  processes itself:

      torchrun --nproc-per-node 2 -m effdl.train.ddp --hooks allreduce,topk_ef --epochs 5
      torchrun --nnodes 2 --node-rank 0 --nproc-per-node 2 --master-addr HOST \\
          --master-port 29500 -m effdl.train.ddp --out results.json   # on each machine
      python -m effdl.train.ddp --nproc 4 --hooks allreduce,terngrad

Local groups rendezvous through a torch FileStore in a temporary directory (no port to pick)
and, on Linux, gloo is told to use the loopback interface ``lo`` unless GLOO_SOCKET_IFNAME is
set. Every process uses one torch thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

from effdl.ddp_hooks import HOOK_COLLECTIVE, HOOK_NAMES, make_hook, ring_wire_bytes

DEFAULT_TIMEOUT_S = 120.0


# ---------------------------------------------------------------- process groups
def _loopback_env() -> None:
    if sys.platform.startswith("linux"):
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    elif sys.platform == "darwin":
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0")


def _join_local_group(rank: int, world_size: int, store_path: str) -> None:
    """Join a gloo group of world_size local processes that meet through a FileStore."""
    _loopback_env()
    torch.set_num_threads(1)
    store = dist.FileStore(store_path, world_size)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size)


def _local_entry(rank: int, fn: Callable, world_size: int, store_path: str, args: tuple) -> None:
    _join_local_group(rank, world_size, store_path)
    try:
        fn(rank, world_size, *args)
        # A rank whose last collective has completed may still be needed by the others to
        # finish theirs; leaving without this barrier closed gloo's connections under them.
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # Even after a clean destroy, about one process in ten aborted while the interpreter shut
    # down ("terminate called without an active exception", from a C++ thread of torch's
    # distributed runtime destroyed at exit; torch 2.14, gloo). The work is done and its
    # results are written, so the process leaves without running those destructors.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn_local_group(
    fn: Callable,
    world_size: int,
    args: tuple = (),
    timeout_s: float = DEFAULT_TIMEOUT_S,
    start_method: str = "spawn",
) -> None:
    """Run fn(rank, world_size, *args) in world_size processes joined in one gloo group.

    fn and args must be picklable by reference (module-level functions) under "spawn";
    "fork" (Linux) also accepts functions defined in the calling program. Raises
    TimeoutError (after terminating the processes) when they run past timeout_s, and
    torch's ProcessRaisedException when one of them fails.
    """
    if not 1 <= world_size <= 64:
        raise ValueError(f"world_size must be in 1..64, got {world_size}")
    if start_method == "fork":
        # DDP's constructor imports torch._dynamo (over a second); imported here once, the
        # forked processes inherit it instead of each importing it again.
        import torch._dynamo  # noqa: F401
    with tempfile.TemporaryDirectory(prefix="ddp-group-") as tmp:
        store_path = os.path.join(tmp, "store")
        context = mp.start_processes(
            _local_entry,
            args=(fn, world_size, store_path, args),
            nprocs=world_size,
            join=False,
            start_method=start_method,
        )
        deadline = time.monotonic() + timeout_s
        while not context.join(timeout=max(0.01, min(1.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                for process in context.processes:
                    if process.is_alive():
                        process.terminate()
                for process in context.processes:
                    process.join(5)
                raise TimeoutError(f"the {world_size} processes ran past {timeout_s:.0f} s")


# ---------------------------------------------------------------- the hook harness
class _FixedGradient(nn.Module):
    """One parameter w of n entries; forward(G) = <w, G>, whose gradient is G itself."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(n, dtype=torch.float32))

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        return (self.w * g).sum()


def _harness_rank(
    rank: int,
    world_size: int,
    hook: Any,
    state_factory: Callable | None,
    grads: np.ndarray,
    ratio: float,
    seed: int,
    out_dir: str,
) -> None:
    if isinstance(hook, str):
        state, fn = make_hook(hook, rank, ratio=ratio, seed=seed)
    else:
        state = state_factory(rank) if state_factory is not None else None
        fn = hook
    model = _FixedGradient(grads.shape[2])
    ddp = DDP(model)
    ddp.register_comm_hook(state, fn)
    averaged, sent = [], []
    for t in range(grads.shape[0]):
        model.w.grad = None
        before = int(getattr(state, "bytes_sent", 0))
        ddp(torch.from_numpy(np.ascontiguousarray(grads[t, rank]))).backward()
        averaged.append(model.w.grad.detach().double().numpy().tolist())
        sent.append(int(getattr(state, "bytes_sent", 0)) - before)
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"averaged": averaged, "bytes": sent}, f)


def run_hook_harness(
    hook: Any,
    grads: np.ndarray,
    state_factory: Callable[[int], Any] | None = None,
    ratio: float = 0.01,
    seed: int = 0,
    timeout_s: float = 60.0,
    start_method: str = "spawn",
) -> dict:
    """Register a hook on DDP in a real gloo group, backpropagate fixed gradients, report.

    hook: a name from `HOOK_NAMES` (its state from `make_hook` with ratio
    and seed), or a hook function; then state_factory(rank) builds each rank's state (None:
    state None). grads: (steps, world_size, n) float32 gradients, G[t, r] is rank r's at step
    t; world_size >= 2 processes are started (each step is one backward on every rank, the
    same hook state carried across steps). The bytes of a step are the increase of
    ``state.bytes_sent`` (0 where the state has none).
    Returns {"world_size", "steps", "n", "averaged": (steps, world_size, n) lists, the
    gradient DDP produced on each rank, "bytes_per_step": (steps, world_size), "bytes_total":
    (world_size,)}.
    """
    G = np.asarray(grads, dtype=np.float32)
    if G.ndim != 3 or G.shape[1] < 2 or G.shape[2] < 1 or G.shape[0] < 1:
        raise ValueError(
            f"grads must have shape (steps >= 1, world_size >= 2, n >= 1), got {G.shape}"
        )
    if isinstance(hook, str) and hook not in HOOK_NAMES:
        raise ValueError(f"unknown hook {hook!r}: expected one of {HOOK_NAMES}")
    steps, world, n = G.shape
    with tempfile.TemporaryDirectory(prefix="ddp-hook-") as out_dir:
        spawn_local_group(
            _harness_rank,
            world,
            (hook, state_factory, G, ratio, seed, out_dir),
            timeout_s=timeout_s,
            start_method=start_method,
        )
        per_rank = []
        for r in range(world):
            with open(os.path.join(out_dir, f"rank{r}.json")) as f:
                per_rank.append(json.load(f))
    averaged = [[per_rank[r]["averaged"][t] for r in range(world)] for t in range(steps)]
    bytes_per_step = [[per_rank[r]["bytes"][t] for r in range(world)] for t in range(steps)]
    return {
        "world_size": world,
        "steps": steps,
        "n": n,
        "averaged": averaged,
        "bytes_per_step": bytes_per_step,
        "bytes_total": [sum(per_rank[r]["bytes"]) for r in range(world)],
    }


# ---------------------------------------------------------------- digits, data-parallel
def digits_tensors(
    seed: int = 0, path: str | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The digits as flat features: (x_train (1437, 64) float32, y_train int64, x_test, y_test).

    Pixels are scaled to [0, 1] and standardized with the training pixels' mean and standard
    deviation. path: a digits.npz (uint8 arrays x_train, y_train, x_test, y_test: raw 8x8
    images with pixels 0..16, and labels; read without pickles); without one,
    `_default_digits(seed)` gives the split (stratified, 360 test images).
    """
    if path is not None:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in data]
            if missing:
                raise ValueError(f"{path} is not a digits file: it lacks {', '.join(missing)}")
            arrays = {key: data[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    else:
        arrays = _default_digits(seed)
    train = arrays["x_train"].reshape(-1, 64).astype(np.float64) / 16.0
    test = arrays["x_test"].reshape(-1, 64).astype(np.float64) / 16.0
    mean, std = train.mean(), train.std()

    def features(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((x - mean) / std).astype(np.float32))

    def labels(y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(y.astype(np.int64))

    return (
        features(train),
        labels(arrays["y_train"]),
        features(test),
        labels(arrays["y_test"]),
    )


def _default_digits(seed: int) -> dict[str, np.ndarray]:
    """scikit-learn's digits, split with seed as the course's digits file is (no file given)."""
    from effdl.data import digits_arrays

    return digits_arrays(seed)


def make_mlp(hidden: int = 128) -> nn.Sequential:
    """The network of the lab: 64 -> hidden -> 10 with a ReLU (9,610 parameters at 128)."""
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train_data_parallel(
    rank: int,
    world_size: int,
    hooks: Sequence[str],
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 0.1,
    momentum: float = 0.9,
    ratio: float = 0.01,
    hidden: int = 128,
    seed: int = 0,
    out_path: str | None = None,
    powersgd_start_iter: int = 10,
    data_path: str | None = None,
) -> list[dict]:
    """This rank's part of training the digits MLP once per hook (call it in every process).

    Every epoch shuffles the training set with a generator seeded by (seed, epoch), the same
    on every rank; each global batch of batch_size images is split so that rank r takes
    positions r, r + K, ... (batch_size / K images; the last incomplete batch is dropped).
    SGD with lr and momentum; the hook decides what the ranks exchange. Wall time is taken
    between barriers around the training loop. Returns (and rank 0 writes to out_path as
    JSON) one dict per hook: "hook", "world_size", "steps", "bytes_per_step" (this rank's
    payload), "wire_bytes_per_step" (ring estimate, `ring_wire_bytes`), "test_acc",
    "test_acc_by_epoch", "bytes_by_epoch" (cumulative payload), "train_loss_by_epoch",
    "wall_s", "params_in_sync" (every rank ended with the same weights). data_path: a
    digits.npz for `digits_tensors` (None: scikit-learn's digits).
    """
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} must be a multiple of world_size {world_size}")
    x_train, y_train, x_test, y_test = digits_tensors(seed, data_path)
    n_batches = x_train.shape[0] // batch_size
    results = []
    for name in hooks:
        torch.manual_seed(seed)
        model = make_mlp(hidden)
        ddp = DDP(model)
        state, hook = make_hook(
            name, rank, ratio=ratio, seed=seed, powersgd_start_iter=powersgd_start_iter
        )
        ddp.register_comm_hook(state, hook)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        loss_fn = nn.CrossEntropyLoss()
        accs, sent, losses = [], [], []
        dist.barrier()
        start = time.perf_counter()
        for epoch in range(epochs):
            order = torch.randperm(
                x_train.shape[0], generator=torch.Generator().manual_seed(seed * 7919 + epoch)
            )
            total = 0.0
            for b in range(n_batches):
                rows = order[b * batch_size : (b + 1) * batch_size][rank::world_size]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(ddp(x_train[rows]), y_train[rows])
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
            losses.append(total / n_batches)
            accs.append(_accuracy(model, x_test, y_test))
            sent.append(state.bytes_sent)
        dist.barrier()
        wall = time.perf_counter() - start
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        spread = flat.clone()
        dist.all_reduce(spread, op=dist.ReduceOp.MAX)
        lowest = flat.clone()
        dist.all_reduce(lowest, op=dist.ReduceOp.MIN)
        steps = epochs * n_batches
        per_step = state.bytes_sent / max(steps, 1)
        results.append(
            {
                "hook": name,
                "world_size": world_size,
                "steps": steps,
                "bytes_per_step": per_step,
                "wire_bytes_per_step": ring_wire_bytes(per_step, world_size, HOOK_COLLECTIVE[name]),
                "dense_bytes_per_step": 4 * flat.numel(),
                "test_acc": accs[-1],
                "test_acc_by_epoch": accs,
                "bytes_by_epoch": sent,
                "train_loss_by_epoch": losses,
                "wall_s": wall,
                "params_in_sync": bool(torch.equal(spread, lowest)),
            }
        )
    if rank == 0 and out_path is not None:
        Path(out_path).write_text(json.dumps(results, indent=2) + "\n")
    return results


def run_digits_ddp(
    world_size: int,
    hooks: Sequence[str] = HOOK_NAMES,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 0.1,
    momentum: float = 0.9,
    ratio: float = 0.01,
    seed: int = 0,
    timeout_s: float = 600.0,
    start_method: str = "spawn",
    data_path: str | None = None,
) -> list[dict]:
    """`train_data_parallel` in world_size local processes (gloo on loopback); rank 0's results.

    start_method: "spawn" (anywhere) or "fork" (Linux; starts in a fraction of the time);
    data_path: a digits.npz (None: scikit-learn's digits).
    """
    for name in hooks:
        if name not in HOOK_NAMES:
            raise ValueError(f"unknown hook {name!r}: expected one of {HOOK_NAMES}")
    with tempfile.TemporaryDirectory(prefix="ddp-results-") as tmp:
        out_path = os.path.join(tmp, "results.json")
        args = (list(hooks), epochs, batch_size, lr, momentum, ratio, 128, seed, out_path)
        args += (10, data_path)
        spawn_local_group(
            train_data_parallel, world_size, args, timeout_s=timeout_s, start_method=start_method
        )
        return json.loads(Path(out_path).read_text())


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring); prints one line per hook.

    It uses nothing but this module's own functions, so that a copy of them in one script
    file (the assignment's ddp_train.py) is the same command.
    """
    parser = argparse.ArgumentParser(
        description="Data-parallel training of an MLP on the digits with DDP communication "
        "hooks (gloo, CPU). Under torchrun each process joins through env://; without it, "
        "--nproc local processes are started.",
    )
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits.npz")
    parser.add_argument("--hooks", default=",".join(HOOK_NAMES), help="comma-separated names")
    parser.add_argument("--nproc", type=int, default=2, help="local processes (no torchrun)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--ratio", type=float, default=0.01, help="top-k fraction")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data",
        default=beside if os.path.isfile(beside) else None,
        help="digits.npz (default: the one beside this file, if any)",
    )
    parser.add_argument("--out", default=None, help="write rank 0's results here (JSON)")
    args = parser.parse_args(argv)
    hooks = [h for h in args.hooks.split(",") if h]
    for name in hooks:
        if name not in HOOK_NAMES:
            parser.error(f"unknown hook {name!r}: expected one of {', '.join(HOOK_NAMES)}")
    if args.data is not None and not os.path.isfile(args.data):
        parser.error(f"--data {args.data}: no such file")
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # started by torchrun
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method="env://")
        rank, world = dist.get_rank(), dist.get_world_size()
        try:
            results = train_data_parallel(
                rank, world, hooks, args.epochs, args.batch_size, args.lr, args.momentum,
                args.ratio, 128, args.seed, args.out, data_path=args.data,
            )  # fmt: skip
            dist.barrier()
        finally:
            dist.destroy_process_group()
        if rank == 0:
            _print_results(results)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # see _local_entry: skip torch's teardown at interpreter exit
    else:
        results = run_digits_ddp(
            args.nproc, hooks, args.epochs, args.batch_size, args.lr, args.momentum,
            args.ratio, args.seed, data_path=args.data,
        )  # fmt: skip
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    _print_results(results)
    return 0


def _print_results(results: list[dict]) -> None:
    for r in results:
        print(
            f"{r['hook']:<10} K={r['world_size']} bytes/step {r['bytes_per_step']:>9.0f} "
            f"test acc {100 * r['test_acc']:.2f}% wall {r['wall_s']:.1f} s"
        )


if __name__ == "__main__":
    raise SystemExit(main())
