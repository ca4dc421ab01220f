"""The keepers' and the ranks' side of the private calls (see sealed.py for the design).

A keeper holds one rank's shares, read from its own file, and forks a rank process for each
run of each call the supervisor names; the rank process runs the fixture's rank function
on its share and reports on a pipe: lines "TAG json" (P progress, R report, E error), which
the supervisor reads as claims. Nothing here ever holds another rank's share.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import signal
import sys
from typing import Any

from . import calls, codec
from .determinism import monotonic, sleep

RANKS: dict[str, tuple[Any, Any]] = {}  # mode -> (rank, assemble), from the fixture modules


def world_of(call: dict[str, Any]) -> int:
    """How many ranks a private call runs on: its input's length along the shared axis."""
    private = call["private"]
    return int(private["shape"][int(private["axis"])])


def close_all_but(keep: set[int]) -> None:
    """Close every descriptor from 3 up except those in `keep` (a keeper holds only its
    own pipes)."""
    low = 3
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 1 << 16)


def write_line(fd: int, tag: str, value: Any) -> None:
    """Write one "TAG json" line on `fd`; a value JSON cannot hold is dropped silently (the
    supervisor then sees no line, as from a rank that said nothing)."""
    with contextlib.suppress(OSError, TypeError, ValueError):
        data = (tag + " " + json.dumps(value, allow_nan=False) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]


def _rank_process(
    job: dict[str, Any], shares: dict[str, Any], message: dict, rank: int, fds: tuple[int, int]
) -> None:
    """A rank's run of one call (in a fresh fork of its keeper), reporting on fds[0] and
    printing on fds[1] (passed on as the notebook's printed output): never returns."""
    fd, printed = fds
    try:
        os.setpgid(0, 0)
        os.dup2(printed, 1)
        os.dup2(printed, 2)
        os.close(printed)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", 0), write_through=True)
        sys.stderr = sys.stdout
        index = int(message["n"])
        call = job["calls"][index]
        mine = shares.get(str(index))
        shares.clear()  # the rank's other calls' shares: not this run's business
        calls.seed_globals(int(call.get("seed", 1000 + index)))
        try:
            kwargs = codec.decode(call.get("kwargs", {"__dict__": []}), inputs=True)
            share = codec.decode(mine, inputs=True)
            run_rank = RANKS[call["mode"]][0]
            target = calls.find_name({}, call["func"])
        except BaseException as exc:  # the function is missing, or its module fails
            write_line(fd, "E", calls.describe_exception(exc))
            os._exit(0)
        say = functools.partial(write_line, fd, "P")
        report = run_rank(target, kwargs, share, rank, world_of(call), message["folder"], say)
        write_line(fd, "R", report)
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            write_line(fd, "E", calls.describe_exception(exc))
    os._exit(0)


def keep_shares(job: dict[str, Any], rank: int, path: str, fds: tuple[int, int, int]) -> None:
    """Keeper of rank `rank`: reads and deletes its share file, then makes a rank process for
    each call the supervisor names on `go` (fds: go, reports, printed output). Never
    returns."""
    go, out, printed = fds
    try:
        with open(path, "rb") as fh:
            shares = json.loads(fh.read())
        try:
            os.unlink(path)
        except OSError:
            if os.getppid() == 1:  # in a sandbox the file must go before any student code
                raise
        write_line(out, "K", "ok")
    except BaseException as exc:
        write_line(out, "K", type(exc).__name__)  # no path of the sandbox in feedback
        os._exit(0)
    pending = b""
    while True:
        while b"\n" not in pending:
            chunk = os.read(go, 4096)
            if not chunk:
                os._exit(0)
            pending += chunk
        line, pending = pending.split(b"\n", 1)
        message = json.loads(line)
        child = os.fork()
        if child == 0:
            os.close(go)
            _rank_process(job, shares, message, rank, (out, printed))
        deadline = monotonic() + float(message["seconds"]) + 2.0
        while monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(child, os.WNOHANG)[0]:
                    break
            sleep(0.005)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)
