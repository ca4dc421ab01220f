"""The processes of the sandbox: finding, killing and reaping them.

Only as PID 1 of the sandbox's own PID namespace does /proc list exactly the sandbox's
processes; outside one (the unsandboxed fallback) the harness leaves other processes alone.
"""

from __future__ import annotations

import contextlib
import os
import signal

from .determinism import monotonic, sleep

PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
KILL_PASSES = 1000  # listings of /proc in one clearing, at most
CLEAR_SECONDS = 2.0  # for one clearing, its passes together


def make_undumpable() -> bool:
    """Mark this process (and the children it forks from now on) not dumpable, so that no
    process of the same uid can reach it: ptrace, /proc/PID/mem, /proc/PID/fd and
    pidfd_getfd all need ptrace access, which a non-dumpable process grants only to
    CAP_SYS_PTRACE. Student code can mark its own process dumpable again, never this one.
    True when the flag is off afterwards (False where prctl does not exist)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        return libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def sandbox_pids(keep: int) -> list[int]:
    """Every process of the sandbox except the supervisor (PID 1) and `keep`."""
    return [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit() and int(entry) not in (1, keep)
    ]


def parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[-1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def kill_strays(keep: int, spare: int = 0, also: frozenset[int] | set[int] = frozenset()) -> None:
    """Before a call: kill what the notebook or earlier calls left running: every process
    but the loader or runner `keep`, and `spare`, the runner's call process of the function
    whose calls go on (only it, and only as the runner's child: any other child of the
    runner, made by student code, is killed too), and the supervisor's own helpers `also`
    (sealed.py's keepers). The killed processes are reaped by their parents or, orphaned, by
    the supervisor."""
    if os.getpid() != 1:
        return
    # Listed, then killed: a process that forks its successor and exits in between ("a
    # hopper") escapes one pass, so passes go on until one finds nothing alive (the zombies
    # left are the dead waiting for their parents), within CLEAR_SECONDS.
    deadline = monotonic() + CLEAR_SECONDS
    for again in range(KILL_PASSES):
        targets = [pid for pid in sandbox_pids(keep) if pid not in also]
        if again:
            targets = [pid for pid in targets if _running(pid)]
        if spare > 1:
            targets = [pid for pid in targets if not (pid == spare and parent_of(pid) == keep)]
        if not targets or (again and monotonic() > deadline):
            return
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for pid in targets:
            while monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                if not _running(pid):
                    break
                sleep(0.001)


def _running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def end_children() -> None:
    """Kill and reap this process's children: what a call's first run left running, before
    its second run (which should find the sandbox as the first one did)."""
    me = os.getpid()
    children = [pid for pid in sandbox_pids(keep=me) if parent_of(pid) == me]
    for pid in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def kill_leftovers() -> None:
    """Kill and reap every other process in the sandbox (background children of student code)."""
    if os.getpid() == 1:  # kill(-1) from PID 1: every other process of the namespace, at once
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(-1, signal.SIGKILL)
    flags = 0 if os.getpid() == 1 else os.WNOHANG
    while True:
        try:
            pid, _ = os.waitpid(-1, flags)
        except ChildProcessError:
            return
        if pid == 0:
            return


def reap_children() -> None:
    """Collect children that have ended (processes the notebook started, killed since)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def exit_status(status: int) -> str:
    """A waitpid status in the words the events use: exited, exit N or signal N."""
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    code = os.WEXITSTATUS(status)
    return "exited" if code == 0 else f"exit {code}"
