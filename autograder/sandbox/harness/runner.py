"""The calls' side of the loader: one call process per graded function, driven by the runner.

The runner (the loader's fork that the supervisor adopts) starts a call process for each
graded function, sends it one call index at a time and waits for the index to come back.
Between two calls the call process puts back the harness's world and the notebook's global
names (not objects changed in place) and reseeds, so one call sees what the next would see
in a fresh process. A call that crashes, exits or overruns its budget ends that process; the
function's remaining calls go on in a fresh one. Calls of different functions never share a
process.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from typing import Any

from .calls import call_deadline, run_one
from .determinism import monotonic
from .processes import exit_status
from .protocol import read_exactly, send
from .world import restore_world


def call_process(
    calls: list[dict[str, Any]],
    namespace: dict[str, Any],
    record_fd: int,
    pipes: tuple[int, int],
    world: dict[str, Any],
    stdout: Any,
) -> None:
    """Body of a call process: run each call index the runner sends, answer with the index.

    Between calls it puts back the harness's world and the notebook's global names (not
    objects changed in place) so that one call sees what the next sees in a fresh process.
    Never returns."""
    go, done = pipes
    os.setpgid(0, 0)
    names = dict(namespace)
    first = True

    def reset() -> None:
        restore_world(world, stdout)
        namespace.clear()
        namespace.update(names)

    while True:
        message = read_exactly(go, 4)
        if message is None:  # the runner closed the pipe: no more calls
            os._exit(0)
        index = int.from_bytes(message, "little")
        if not first:
            reset()
        first = False
        run_one(calls[index], index, namespace, record_fd, reset)
        os.write(done, message)


def call_groups(calls: list[dict[str, Any]], skip: set[int]) -> list[list[int]]:
    """Call indexes grouped by graded function, in the order functions first appear."""
    groups: dict[str, list[int]] = {}
    for index, call in enumerate(calls):
        if index not in skip:
            groups.setdefault(str(call.get("func")), []).append(index)
    return list(groups.values())


UNDELIVERED = "not started: its process ended before the call reached it"


class CallProcess:
    """The runner's handle on a call process: its pid, pipes and exit notification."""

    def __init__(self, pid: int, go: int, done: int) -> None:
        self.pid, self.go, self.done = pid, go, done
        try:  # a pidfd becomes readable when the process exits: no polling delay
            self.pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def close(self) -> None:
        """Close its descriptors, once: a second close could hit a reused number."""
        for fd in (self.go, self.done, self.pidfd):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.go = self.done = -1
        self.pidfd = None


def start_call_process(
    job: dict[str, Any],
    context: tuple[dict[str, Any], str, dict[str, Any], Any],
    ack_fd: int,
    fd: int,
) -> CallProcess:
    namespace, record_fd, world, stdout = context
    go_read, go_write = os.pipe()
    done_read, done_write = os.pipe()
    stdout.flush()
    try:
        pid = os.fork()
    except OSError:
        for end in (go_read, go_write, done_read, done_write):
            os.close(end)
        raise
    if pid == 0:
        try:
            for end in (go_write, done_read, ack_fd, fd):
                os.close(end)
            call_process(job["calls"], namespace, record_fd, (go_read, done_write), world, stdout)
        finally:
            os._exit(1)
    os.close(go_read)
    os.close(done_write)
    return CallProcess(pid, go_write, done_read)


def run_group(
    job: dict[str, Any],
    group: list[int],
    fd: int,
    ack_fd: int,
    context: tuple[dict[str, Any], str, dict[str, Any], Any],
) -> None:
    """Run one function's calls in one call process, starting a fresh one after a call that
    ended its process (crash, exit, timeout); the process is killed when the group is done."""
    proc: CallProcess | None = None
    try:
        for index in group:
            call = job["calls"][index]
            timeout = float(call.get("timeout", job.get("call_timeout", 10.0)))
            if proc is not None and not _alive(proc):
                proc.close()
                proc = None
            keep = proc.pid if proc is not None else 0  # the one process the supervisor spares
            send(fd, {"ev": "call_start", "n": index, "timeout": timeout, "keep": keep})
            os.read(ack_fd, 1)  # the supervisor has cleared away other processes
            for _attempt in range(2):  # again in a fresh process if it ended between calls
                if proc is not None and not _alive(proc):
                    proc.close()
                    proc = None
                if proc is None:
                    try:
                        proc = start_call_process(job, context, ack_fd, fd)
                    except OSError as exc:  # out of processes even after the clearing
                        status = f"not started: {exc}"
                        break
                status, alive = wait_call(proc, index, timeout)
                if not alive:
                    proc.close()
                    proc = None
                if status != UNDELIVERED:
                    break
            send(fd, {"ev": "call_end", "n": index, "status": status})
    finally:
        if proc is not None:
            _end(proc)


def _alive(proc: CallProcess) -> bool:
    try:
        done, _ = os.waitpid(proc.pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == 0


def _end(proc: CallProcess) -> None:
    """Kill a call process and whatever it started in its process group, and reap it."""
    for target in (-proc.pid, proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(proc.pid, 0)
    proc.close()


def wait_call(proc: CallProcess, index: int, timeout: float) -> tuple[str, bool]:
    """Send call `index` to the call process and wait for it: (status, process still alive).

    "exited" with a live process is a call that returned (its record is sent); a
    process that ended gives its exit status; one that overruns call_deadline(timeout) (its
    budget and the time for its second run) is killed."""
    message = index.to_bytes(4, "little")
    try:
        os.write(proc.go, message)
    except OSError:  # it ended (or closed the harness's pipe) after its last call
        _end(proc)
        return UNDELIVERED, False
    deadline = monotonic() + call_deadline(timeout)
    watched = [proc.done] + ([proc.pidfd] if proc.pidfd is not None else [])
    heard = b""  # what came back on the pipe: the index, after anything student code wrote
    while True:
        left = deadline - monotonic()
        if left <= 0:
            _end(proc)
            return "timeout", False
        ready, _, _ = select.select(
            watched, [], [], min(left, 0.002 if proc.pidfd is None else 0.5)
        )
        if proc.done in ready:
            chunk = os.read(proc.done, 4096)  # never blocks for more: the deadline holds
            if not chunk:  # it closed its end: wait for its exit only
                watched = [w for w in watched if w != proc.done]
            heard = (heard + chunk)[-4096:]
            if message in heard:
                return "exited", True
            continue
        if proc.pidfd is None or proc.pidfd in ready:
            try:
                done, status = os.waitpid(proc.pid, os.WNOHANG)
            except ChildProcessError:
                return "exited", False
            if done:
                return exit_status(status), False
