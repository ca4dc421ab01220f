"""A student's DDP communication hook, run for real: a gloo group on the sandbox's loopback.

Mode "ddp_hook": the call process forks one process per rank; each joins a gloo group
(rendezvous through a FileStore in a fresh folder of the sandbox's private /tmp, traffic on
the loopback device, the only one the sandbox's network namespace has), wraps a fixed
one-parameter model in DistributedDataParallel, registers the student's hook with a state
built here (`HookState`, never the submission's class), and backpropagates fixed per-rank
gradients: the model's loss on rank r at step t is <w, G[t, r]>, so the bucket the hook gets
holds exactly G[t, r]. After every step a rank reports the gradient DDP left in w.grad (what
the hook returned) and the bytes the hook added to ``state.bytes_sent``.

The ranks run student code, so what they report is data for the checks to judge, nothing
more. The collector makes itself non-dumpable before it forks them, so that no rank can read
or write the memory of another rank or of the collector. The collector (the call process) keeps to a deadline of its own, shorter than the
call's budget: a hook that hangs the group costs the run, and the result still says which
rank stopped at which step. Every rank is killed and reaped before the fixture returns.

Like the harness, this module imports only the standard library, numpy and torch (a test
reads its imports); the checks import it to read the same constants.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import json
import os
import select
import shutil
import signal
import tempfile
import time
from typing import Any

GROUP_SECONDS = 20.0  # default deadline of one group run, from the first fork to the last result
TERNGRAD_SEED_STRIDE = 1_000_003  # rank r's generator seed: seed * stride + r (as effdl does)
REPORT_CAP = 8 * 1024 * 1024  # bytes of one rank's report that are read
PR_SET_DUMPABLE = 4  # prctl option (linux/prctl.h)


class HookState:
    """The state every hook gets (one per rank), with the fields the notebook documents.

    ratio and error_feedback configure top-k; residuals is the hook's own dict; generator is
    a torch.Generator seeded per rank (TernGrad's draws); process_group is None (the default
    group); bytes_sent and calls start at 0 and the hook adds to them.
    """

    def __init__(self, ratio: float, error_feedback: bool, generator: Any) -> None:
        self.process_group = None
        self.ratio = ratio
        self.error_feedback = error_feedback
        self.residuals: dict = {}
        self.generator = generator
        self.inner = None
        self.bytes_sent = 0
        self.calls = 0


def _rank(hook: Any, spec: dict[str, Any], rank: int, store_path: str, fd: int) -> None:
    """One rank's run; reports "S t" after step t and finally "R {json}" on fd. Never returns."""
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    report: dict[str, Any] = {"rank": rank, "averaged": [], "bytes": [], "error": ""}

    def say(text: str) -> None:
        with contextlib.suppress(OSError):
            os.write(fd, (text + "\n").encode())

    try:
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
        torch.set_num_threads(1)
        grads = np.asarray(spec["grads"], dtype=np.float32)
        world, n = grads.shape[1], grads.shape[2]
        timeout = datetime.timedelta(seconds=float(spec.get("seconds", GROUP_SECONDS)))
        store = dist.FileStore(store_path, world)
        dist.init_process_group("gloo", store=store, rank=rank, world_size=world, timeout=timeout)
        model = torch.nn.Linear(n, 1, bias=False)  # forward(G) = <w, G>: the gradient is G
        with torch.no_grad():
            model.weight.zero_()
        ddp = DistributedDataParallel(model)
        seed = int(spec.get("seed", 0)) * TERNGRAD_SEED_STRIDE + rank
        state = HookState(
            float(spec.get("ratio", 0.25)),
            bool(spec.get("error_feedback", True)),
            torch.Generator().manual_seed(seed),
        )
        ddp.register_comm_hook(state, hook)
        say("S -1")
        for t in range(grads.shape[0]):
            model.weight.grad = None
            before = int(state.bytes_sent)
            ddp(
                torch.from_numpy(np.ascontiguousarray(grads[t, rank])).reshape(1, n)
            ).sum().backward()
            got = model.weight.grad
            report["averaged"].append(
                [float(x) for x in got.detach().double().reshape(-1).tolist()]
                if got is not None
                else None
            )
            report["bytes"].append(int(state.bytes_sent) - before)
            say(f"S {t}")
        dist.barrier()
    except BaseException as exc:  # reported as data: the check explains it
        with contextlib.suppress(BaseException):
            report["error"] = f"{type(exc).__name__}: {exc}"[:600]
    with contextlib.suppress(BaseException):
        say("R " + json.dumps(report))
    os._exit(0)  # no teardown: torch's distributed threads may abort at interpreter exit


def _not_dumpable() -> None:
    """Make this process (and every process it forks) non-dumpable: another process of the
    same uid can then no longer read or write its memory (/proc/PID/mem, ptrace,
    process_vm_writev). A rank's hook may undo it for its own rank only."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _collect(children: dict[int, int], deadline: float) -> tuple[dict[int, bytes], bool]:
    """Read every rank's pipe until each has closed or the deadline passes; whether it did."""
    data = {rank: b"" for rank in children.values()}
    open_fds = dict(children)  # fd -> rank
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, True
        ready, _, _ = select.select(list(open_fds), [], [], min(left, 0.5))
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                del open_fds[fd]
            elif len(data[open_fds[fd]]) < REPORT_CAP:
                data[open_fds[fd]] += chunk
    return data, False


def _parse(raw: bytes) -> tuple[int, dict[str, Any] | None]:
    """(last step reported, final report or None) from a rank's pipe bytes."""
    last, report = -2, None
    for line in raw.decode("utf-8", "replace").splitlines():
        if line.startswith("S "):
            with contextlib.suppress(ValueError):
                last = int(line[2:])
        elif line.startswith("R "):
            with contextlib.suppress(ValueError):
                candidate = json.loads(line[2:])
                report = candidate if isinstance(candidate, dict) else None
    return last, report


def run_ddp_hook(hook: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Run `hook` in a gloo group of spec["grads"].shape[1] ranks for shape[0] steps.

    spec: grads (steps, world, n), ratio, error_feedback, seed, seconds (the deadline).
    Returns {"averaged": (steps, world, n) float64, NaN where a rank gave nothing,
    "bytes": (steps, world) int64, -1 where missing, "steps_done": (world,) steps each rank
    finished, "errors": one string per rank ('' when none), "timed_out": bool}.
    """
    import numpy as np

    grads = np.asarray(spec["grads"], dtype=np.float32)
    steps, world, n = grads.shape
    folder = tempfile.mkdtemp(prefix="effdl-group-")
    store_path = os.path.join(folder, "store")
    started = time.monotonic()
    deadline = started + float(spec.get("seconds", GROUP_SECONDS))
    children: dict[int, int] = {}  # read fd -> rank
    pids: list[int] = []
    _not_dumpable()  # the collector, and the ranks it forks, keep their memory to themselves
    try:
        for rank in range(world):
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # the rank: only its own pipe's write end stays open
                try:
                    for fd in [read_fd, *children]:
                        os.close(fd)
                    _rank(hook, spec, rank, store_path, write_fd)
                finally:
                    os._exit(70)
            os.close(write_fd)
            children[read_fd] = rank
            pids.append(pid)
        raw, timed_out = _collect(children, deadline)
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        for fd in children:
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
    averaged = np.full((steps, world, n), np.nan)
    sent = np.full((steps, world), -1, dtype=np.int64)
    done = np.zeros(world, dtype=np.int64)
    errors = []
    for rank in range(world):
        last, report = _parse(raw.get(rank, b""))
        done[rank] = max(0, last + 1)
        error = ""
        if report is None:
            where = (
                "before joining the group" if last < -1 else f"after {last + 1} of {steps} steps"
            )
            why = " when the group ran out of time" if timed_out else " (its process ended)"
            error = f"rank {rank} did not finish: it stopped {where}{why}"
        else:
            error = str(report.get("error", ""))[:600]
            rows = report.get("averaged") if isinstance(report.get("averaged"), list) else []
            counts = report.get("bytes") if isinstance(report.get("bytes"), list) else []
            for t, row in enumerate(rows[:steps]):
                with contextlib.suppress(TypeError, ValueError):
                    values = np.asarray(row, dtype=np.float64).reshape(-1)
                    if values.shape == (n,):
                        averaged[t, rank] = values
            for t, count in enumerate(counts[:steps]):
                if isinstance(count, int) and not isinstance(count, bool):
                    sent[t, rank] = count
        errors.append(error)
    return {
        "averaged": averaged,
        "bytes": sent,
        "steps_done": done,
        "errors": errors,
        "timed_out": bool(timed_out),
    }


MODES = {"ddp_hook": run_ddp_hook}
