"""Warm sandboxes: each grading worker keeps a zygote (zygote.py) that has imported what the
assignment pre-imports, so a submission no longer pays for a fresh interpreter importing
numpy and torch (about 3 s for torch here).

Per submission, bwrap builds the sandbox exactly as the cold path does (mounts, namespaces,
control group, seccomp filter, worker uid) around a placeholder that only waits; the zygote
forks a process that enters that sandbox's namespaces, becomes PID 1 of a fresh PID
namespace, drops to the worker uid and runs the supervisor. The zygote itself never runs
student code, and it is replaced after MAX_SERVED submissions and on any doubt: a spawn that
failed or answered oddly, and any run that did not end cleanly (timed out, killed, wrote too
much, left processes, exited non-zero). Where the warm path cannot run (not root, no sized
tmpfs in this bwrap, EFFDL_SANDBOX=cold) the cold path runs, as it does for a spawn that
failed before the supervisor started.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.sandbox import bwrap

ZYGOTE = Path(__file__).resolve().parent / "zygote.py"
HARNESS_FLAGS = ("-s", "-S", "-P")  # the cold sandbox's interpreter flags (run.py)
REQUEST_BYTES = 16384  # zygote.REQUEST_BYTES: every request is padded to it
NAMESPACES = ("ipc", "uts", "net", "cgroup", "mnt")  # zygote.NAMESPACES, in its order
EXIT_GRACE = 5.0  # seconds for the exit status to come once the supervisor has ended
MAX_SERVED = 100  # submissions one zygote serves before it is replaced
START_SECONDS = 120.0  # for a zygote to import its modules
READY_SECONDS = 20.0  # for bwrap to build a sandbox around the placeholder
SETUP_FAILED = 125  # zygote.SETUP_FAILED: the supervisor never started
PLACEHOLDER = ["/bin/sh", "-c", "echo ready; read line"]  # waits until its stdin closes
ADDR_NO_RANDOMIZE = 0x0040000


def wanted() -> tuple[bool, str]:
    """(True, how) where runs go through a zygote, else (False, why they start cold)."""
    if os.environ.get("EFFDL_SANDBOX") == "cold":
        return False, "EFFDL_SANDBOX=cold (or --cold) was set"
    if os.geteuid() != 0:
        return False, "warm sandboxes need a grader running as root"
    if sys.version_info < (3, 11):
        return False, "warm sandboxes need Python 3.11 (python -P)"
    kind, why = bwrap.backend()
    if kind != "bwrap":
        return False, why
    if not bwrap.sized_tmpfs():
        return False, "this bwrap has no --size for tmpfs folders (bubblewrap >= 0.8)"
    return True, "warm: forked from a zygote that pre-imported the assignment's modules"


@functools.cache
def libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def fix_addresses() -> None:
    """Turn address randomization off for this process and what it executes (in a child
    between fork and exec), so that id() values repeat between gradings."""
    with contextlib.suppress(Exception):
        libc().personality(ADDR_NO_RANDOMIZE | (libc().personality(0xFFFFFFFF) & 0xFFFFFFFF))


def _zygote_child() -> None:
    fix_addresses()
    PR_SET_PDEATHSIG = 1
    libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def zygote_modules(preimport: list[str]) -> tuple[str, ...]:
    """What a zygote imports for a job: its pre-imports and what the supervisor loads with
    them (random; numpy.random, which numpy 2 loads lazily)."""
    modules = list(preimport)
    if "numpy" in modules:
        modules.append("numpy.random")
    return (*modules, "random")


@dataclass
class Zygote:
    """One zygote process and the grader's end of its socket."""

    proc: subprocess.Popen
    sock: socket.socket
    go: int  # a byte written here makes the zygote fork the next run's process
    modules: tuple[str, ...]
    inherited_bytes: int = 0  # its private memory, which a forked run uses uncharged
    served: int = 0
    retired: bool = False

    def retire(self) -> None:
        """End it (a new one starts at the next run)."""
        if self.retired:
            return
        self.retired = True
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(OSError):
            os.close(self.go)
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


def _receive(sock: socket.socket, seconds: float | None) -> dict[str, Any] | None:
    """The zygote's next message, None at its end or after `seconds`."""
    ready, _, _ = select.select([sock], [], [], seconds)
    if not ready:
        return None
    with contextlib.suppress(OSError):
        data = sock.recv(1 << 16)
        if data:
            with contextlib.suppress(ValueError):
                message = json.loads(data)
                return message if isinstance(message, dict) else None
    return None


def _anonymous_bytes(pid: int) -> int:
    """A process's resident anonymous memory (RssAnon), in bytes; 0 where unknown."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def start_zygote(modules: tuple[str, ...]) -> Zygote:
    """A fresh zygote that has imported `modules` (raises OSError when it cannot start)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    go_read, go_write = os.pipe()
    exe, sites = bwrap.python_paths()
    args = [exe, *HARNESS_FLAGS, str(ZYGOTE), str(theirs.fileno()), str(go_read)]
    with tempfile.TemporaryFile(prefix="effdl-zygote-") as errors:  # read only if it fails
        try:
            proc = subprocess.Popen(
                [*args, os.pathsep.join(sites), *modules],
                cwd="/",
                env=bwrap.environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                pass_fds=(theirs.fileno(), go_read),
                start_new_session=True,
                preexec_fn=_zygote_child,
            )
        finally:
            theirs.close()
            os.close(go_read)
        zygote = Zygote(proc, ours, go_write, modules)
        ready = _receive(ours, START_SECONDS)
        if not ready or ready.get("ready") != list(modules):
            zygote.retire()
            errors.seek(0)
            err = errors.read()[-500:].decode("utf-8", "replace").strip()
            raise OSError(f"the zygote did not start: {err or ready}")
    zygote.inherited_bytes = _anonymous_bytes(proc.pid)
    return zygote


_ZYGOTES: dict[tuple[int, int, tuple[str, ...]], Zygote] = {}


def zygote_for(modules: tuple[str, ...]) -> Zygote:
    """This thread's zygote for `modules`, started (or replaced) when needed. One per thread
    (a Dask worker may grade in several) and never a forked parent's."""
    key = (os.getpid(), threading.get_ident(), modules)
    zygote = _ZYGOTES.get(key)
    if zygote is None or zygote.retired or zygote.proc.poll() is not None:
        if zygote is not None:
            zygote.retire()
        zygote = _ZYGOTES[key] = start_zygote(modules)
    return zygote


def retire_all() -> None:
    """End this process's zygotes (at exit, and for tests)."""
    for key in [k for k in _ZYGOTES if k[0] == os.getpid()]:
        _ZYGOTES.pop(key).retire()


atexit.register(retire_all)


@dataclass
class WarmRun:
    """A warm run as subprocess.Popen-like handle: pid is the supervisor's host pid (PID 1 of
    its namespace, so killpg(pid) ends the run), stdout and stderr the run's two pipes."""

    zygote: Zygote
    pid: int
    stdout: Any
    stderr: Any
    returncode: int | None = None
    notes: list[str] = field(default_factory=list)
    faulted: bool = False  # the zygote failed during the run (its result is not the run's)
    ended_at: float | None = None  # when the supervisor was seen gone without a status

    @property
    def exit_fd(self) -> int:
        """Readable when the run has ended (the zygote's exit message)."""
        return self.zygote.sock.fileno()

    def poll(self) -> int | None:
        if self.returncode is None:
            self._take(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                raise subprocess.TimeoutExpired("warm run", timeout or 0)
            self._take(left)
        return self.returncode

    def _fault(self, why: str) -> None:
        self.notes.append(f"zygote fault: {why}")
        self.faulted = True
        self.zygote.retire()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.returncode = -signal.SIGKILL

    def _take(self, seconds: float) -> None:
        if self.zygote.retired:
            self._fault("it was retired during the run")
            return
        message = _receive(self.zygote.sock, seconds)
        if message is not None and isinstance(message.get("exit"), int):
            self.returncode = message["exit"]
        elif message is not None:
            self._fault(f"an odd message {message}")
        elif self.zygote.proc.poll() is not None:
            self._fault("it ended during the run")
        elif not _alive(self.pid):  # the supervisor is gone: its status is due
            self.ended_at = self.ended_at or time.monotonic()
            if time.monotonic() - self.ended_at > EXIT_GRACE:
                self._fault("no exit status came for the ended run")

    def finish(self, clean: bool) -> None:
        """Retire the zygote unless the run ended cleanly and it has served fewer than
        MAX_SERVED."""
        self.zygote.served += 1
        if not clean or self.zygote.served >= MAX_SERVED:
            self.zygote.retire()


def _alive(pid: int) -> bool:
    """Whether a process of that pid exists and has not ended (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _end_placeholder(sandbox: subprocess.Popen) -> None:
    """Close the placeholder's stdin (it exits, and bwrap with it) and reap bwrap."""
    with contextlib.suppress(OSError, AttributeError):
        sandbox.stdin.close()
    try:
        sandbox.wait(5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sandbox.pid, signal.SIGKILL)
        sandbox.wait()
    for pipe in (sandbox.stdout, sandbox.stderr):
        with contextlib.suppress(OSError, AttributeError):
            pipe.close()


class SpawnFailed(OSError):
    """The warm path could not start this run; nothing of the submission ran."""


def _read_line(pipe: Any, seconds: float) -> bytes:
    fd = pipe.fileno()
    deadline = time.monotonic() + seconds
    got = b""
    while b"\n" not in got:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        got += chunk
    return got


def _info_pid(fd: int, seconds: float) -> int | None:
    """The host pid of the sandbox's first process, from bwrap --info-fd's JSON."""
    deadline = time.monotonic() + seconds
    got = b""
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        got += chunk
        with contextlib.suppress(ValueError):
            return int(json.loads(got)["child-pid"])
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return int(json.loads(got)["child-pid"])
    return None


def _descriptors(pid: int, groups: list[Path]) -> list[int]:
    """The sandbox's namespaces (from its first process, `pid`) and the run's control
    groups' cgroup.procs, opened here: the zygote gets descriptors, never pids or paths."""
    fds: list[int] = []
    try:
        for name in NAMESPACES:
            fds.append(os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC))
        for folder in groups:
            fds.append(os.open(folder / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC))
    except OSError:
        for fd in fds:
            os.close(fd)
        raise
    return fds


def start(
    zygote: Zygote,
    bwrap_cmd: list[str],
    popen: dict[str, Any],
    request: dict[str, Any],
    groups: list[Path],
) -> WarmRun:
    """Start bwrap_cmd (bwrap's mounts and process_args, without the program) around the
    placeholder, then have the zygote run the supervisor inside it, in the control groups
    `groups`.

    `request` is the spawn request (uid, rlimits, seccomp, argv); `popen` are Popen's keyword
    arguments for bwrap (cwd, env, pass_fds, preexec_fn). Raises SpawnFailed."""
    info_read, info_write = os.pipe()
    at = bwrap_cmd.index("--")  # bwrap's own options end there
    cmd = [*bwrap_cmd[:at], "--info-fd", str(info_write), *bwrap_cmd[at:], *PLACEHOLDER]
    pass_fds = (*popen.pop("pass_fds", ()), info_write)
    try:
        sandbox = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=pass_fds,
            **popen,
        )
    except OSError:
        os.close(info_read)
        raise
    finally:
        os.close(info_write)
    channel_read, channel_write = os.pipe()
    err_read, err_write = os.pipe()
    passed: list[int] = []
    try:
        pid = _info_pid(info_read, READY_SECONDS)
        ready = _read_line(sandbox.stdout, READY_SECONDS)
        if pid is None or ready.strip() != b"ready":
            why = sandbox.stderr.read1(2000).decode("utf-8", "replace") if sandbox.poll() else ""
            raise SpawnFailed(f"the placeholder sandbox did not start: {why.strip()}")
        passed = _descriptors(pid, groups)
        body = json.dumps({**request, "groups": len(groups)}).encode()
        if len(body) > REQUEST_BYTES:
            raise SpawnFailed(f"a spawn request of {len(body)} bytes")
        try:
            os.write(zygote.go, b"\x01")
            message = body.ljust(REQUEST_BYTES, b" ")
            socket.send_fds(zygote.sock, [message], [channel_write, err_write, *passed])
        except OSError as exc:
            zygote.retire()
            raise SpawnFailed(f"the zygote took no request: {exc}") from exc
        reply = _receive(zygote.sock, READY_SECONDS)
        if not reply or not isinstance(reply.get("started"), int):
            zygote.retire()
            raise SpawnFailed(f"the zygote did not start the run: {reply}")
    except (SpawnFailed, OSError) as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sandbox.pid, signal.SIGKILL)
        _end_placeholder(sandbox)
        for fd in (channel_read, err_read):
            os.close(fd)
        if isinstance(exc, SpawnFailed):
            raise
        raise SpawnFailed(f"the sandbox's namespaces could not be opened: {exc}") from exc
    finally:
        os.close(info_read)
        for fd in (channel_write, err_write, *passed):
            os.close(fd)
    # The run holds the namespaces now: the placeholder goes, so that the run's process count
    # and control group hold what a cold run's do.
    _end_placeholder(sandbox)
    return WarmRun(
        zygote=zygote,
        pid=reply["started"],
        stdout=os.fdopen(channel_read, "rb", buffering=0),
        stderr=os.fdopen(err_read, "rb", buffering=0),
    )
