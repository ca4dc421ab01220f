"""A student's DDP communication hook, run for real: a gloo group on the sandbox's loopback.

Each rank (run_rank) joins a gloo group (rendezvous through a FileStore in a fresh folder of
the sandbox's private /tmp, traffic on the loopback device, the only one the sandbox's
network namespace has), wraps a fixed one-parameter model in DistributedDataParallel,
registers the student's hook with a state built here (`HookState`, never the submission's
class), and backpropagates its own fixed gradients: the model's loss on rank r at step t is
<w, G[t, r]>, so the bucket the hook gets holds exactly G[t, r]. After every step a rank
records the gradient DDP left in w.grad (what the hook returned) and the bytes the hook added
to ``state.bytes_sent``; assemble() makes the call's value from the ranks' reports.

In the sandbox the checks' calls are private (RANKS, harness/sealed.py): G is split by rank,
and rank r is a process that only ever held G[:, r], so a hook learns the other ranks'
gradients only by communicating. The ranks run student code, so what they report is data for
the checks to judge, nothing more; a hook that hangs the group costs the run, and the result
still says which rank stopped at which step. run_ddp_hook forks the ranks from one process
holding all of G: the reference path, for tests and trusted hooks only.

Like the harness, this module imports only the standard library, numpy and torch (a test
reads its imports); the checks import it to read the same constants.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import json
import os
import re
import select
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from typing import Any

GROUP_SECONDS = 20.0  # default deadline of one group run, from the first fork to the last result
TERNGRAD_SEED_STRIDE = 1_000_003  # rank r's generator seed: seed * stride + r (as effdl does)
REPORT_CAP = 8 * 1024 * 1024  # bytes of one rank's report that are read
PR_SET_DUMPABLE = 4  # prctl option (linux/prctl.h)
PORT = re.compile(r"(\[[0-9.]+\]|[0-9]+(?:\.[0-9]+){3}|localhost):[0-9]+")


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


def run_rank(
    hook: Any,
    spec: dict[str, Any],
    grads: Any,
    rank: int,
    world: int,
    folder: str,
    progress: Callable[[int], None],
) -> dict[str, Any]:
    """Rank `rank` of a group of `world`: joins it through a FileStore in `folder`, registers
    `hook` and backpropagates its own gradients `grads` (steps, n), one step at a time.
    Calls progress(-1) once in the group and progress(t) after step t; returns
    {"averaged": per step the gradient DDP left (None where none), "bytes": per step what
    the hook added to state.bytes_sent, "error": ''}. What it raises is reported as data."""
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    report: dict[str, Any] = {"averaged": [], "bytes": [], "error": ""}
    try:
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
        torch.set_num_threads(1)
        mine = np.asarray(grads, dtype=np.float32)
        steps, n = mine.shape
        timeout = datetime.timedelta(seconds=float(spec.get("seconds", GROUP_SECONDS)))
        store = dist.FileStore(os.path.join(folder, "store"), world)
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
        progress(-1)
        for t in range(steps):
            model.weight.grad = None
            before = int(state.bytes_sent)
            ddp(torch.from_numpy(np.ascontiguousarray(mine[t])).reshape(1, n)).sum().backward()
            got = model.weight.grad
            report["averaged"].append(
                [float(x) for x in got.detach().double().reshape(-1).tolist()]
                if got is not None
                else None
            )
            report["bytes"].append(int(state.bytes_sent) - before)
            progress(t)
        dist.barrier()
    except BaseException as exc:  # reported as data: the check explains it
        with contextlib.suppress(BaseException):
            report["error"] = f"{type(exc).__name__}: {exc}"[:600]
    return report


def _rank_child(hook: Any, spec: dict[str, Any], rank: int, folder: str, fd: int) -> None:
    """A rank forked by run_ddp_hook: writes "P step" lines and a final "R report" on fd."""

    def say(tag: str, value: Any) -> None:
        with contextlib.suppress(OSError, TypeError, ValueError):
            os.write(fd, f"{tag} {json.dumps(value)}\n".encode())

    grads = spec["grads"]
    world = grads.shape[1]
    report = run_rank(hook, spec, grads[:, rank], rank, world, folder, lambda t: say("P", t))
    say("R", report)
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


def _lines(raw: bytes) -> dict[str, Any]:
    """A forked rank's pipe bytes as the ranks' entry assemble() reads."""
    entry: dict[str, Any] = {"report": None, "progress": None, "error": None}
    for line in raw.decode("utf-8", "replace").splitlines():
        tag, _, text = line.partition(" ")
        with contextlib.suppress(ValueError):
            if tag == "P" and entry["report"] is None:
                entry["progress"] = json.loads(text)
            elif tag == "R" and entry["report"] is None:
                entry["report"] = json.loads(text)
    return entry


def run_ddp_hook(hook: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Run `hook` in a gloo group of spec["grads"].shape[1] ranks forked from this process,
    each holding the whole input: the reference path, for the tests and for trusted hooks.
    A submission's hooks are run by the sandbox's keepers instead (RANKS: each rank only
    ever holds its own gradients). Returns what assemble() does."""
    import numpy as np

    grads = np.asarray(spec["grads"], dtype=np.float32)
    world = grads.shape[1]
    folder = tempfile.mkdtemp(prefix="effdl-group-")
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
                    _rank_child(hook, {**spec, "grads": grads}, rank, folder, write_fd)
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
    ranks = [_lines(raw.get(rank, b"")) for rank in range(world)]
    return assemble(ranks, spec, grads.shape, timed_out)


def assemble(
    ranks: list[dict[str, Any]], spec: dict[str, Any], shape: tuple[int, ...], timed_out: bool
) -> dict[str, Any]:
    """The call's value from what each rank reported (entries "report", "progress" (the last
    step done) and "error", any of them None) for gradients of `shape` (steps, world, n):
    {"averaged": (steps, world, n) float64, NaN where a rank gave nothing, "bytes":
    (steps, world) int64, -1 where missing, "steps_done": (world,) steps each rank
    finished, "errors": one string per rank ('' when none), "timed_out": bool}."""
    import numpy as np

    steps, world, n = (int(x) for x in shape)
    averaged = np.full((steps, world, n), np.nan)
    sent = np.full((steps, world), -1, dtype=np.int64)
    done = np.zeros(world, dtype=np.int64)
    errors = []
    for rank in range(world):
        entry = ranks[rank] if rank < len(ranks) and isinstance(ranks[rank], dict) else {}
        report, last = entry.get("report"), entry.get("progress")
        last = last if isinstance(last, int) and not isinstance(last, bool) else -2
        last = max(-2, min(last, steps - 1))
        done[rank] = max(0, last + 1)
        if not isinstance(report, dict):
            where = (
                "before joining the group" if last < -1 else f"after {last + 1} of {steps} steps"
            )
            why = " when the group ran out of time" if timed_out else " (its process ended)"
            errors.append(f"rank {rank} did not finish: it stopped {where}{why}")
            continue
        rows = report.get("averaged") if isinstance(report.get("averaged"), list) else []
        counts = report.get("bytes") if isinstance(report.get("bytes"), list) else []
        done[rank] = len(rows[:steps])
        for t, row in enumerate(rows[:steps]):
            with contextlib.suppress(TypeError, ValueError):
                values = np.asarray(row, dtype=np.float64).reshape(-1)
                if values.shape == (n,):
                    averaged[t, rank] = values
        for t, count in enumerate(counts[:steps]):
            # a count beyond int64 is kept as missing (-1), not an overflow of the fixture
            if isinstance(count, int) and not isinstance(count, bool) and abs(count) < 2**63:
                sent[t, rank] = count
        # a peer's port in gloo's messages differs between runs; the error must not
        errors.append(PORT.sub(r"\1:<port>", str(report.get("error", "")))[:600])
    return {
        "averaged": averaged,
        "bytes": sent,
        "steps_done": done,
        "errors": errors,
        "timed_out": bool(timed_out),
    }


MODES = {"ddp_hook": run_ddp_hook}  # the reference path (tests/inprocess.py)
RANKS = {"ddp_hook": (run_rank, assemble)}  # how the sandbox runs a private call
