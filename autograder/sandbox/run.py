"""One sandbox run: the harness on a prepared job, under limits, watched from outside.

Limits on memory, CPU (time and share), processes, file size, output size and wall time;
what the run writes to the grader's disk is measured while it runs. What the harness found
comes back on one pipe only, the supervisor's stdout (harness/protocol.py: the channel), which
no process that runs student code holds; the sandbox has no folder of the grader's to write
into (with an older bwrap or none, /submission and /tmp are, and they are watched), and the
grader reads nothing back from disk. Its stderr is a second pipe, kept short for the staff.

So that a grade is the same at every grading (harness/determinism.py), the sandbox's Python
starts with address randomization off, and sees seeded bytes at /dev/urandom and /dev/random
and fixed text at /proc/uptime and /proc/loadavg. Where bwrap cannot run, the grader says so,
falls back to a plain subprocess with the same rlimits (under the worker's uid when it runs
as root), and marks the run unsandboxed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import random
import resource
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.sandbox import bwrap, cgroups, seccomp, warm
from autograder.sandbox.harness import protocol
from autograder.sandbox.install import LAUNCH, sealed_dir
from autograder.sandbox.uids import BASE_UID, claim_uid, kill_uid, user_processes

STDERR_KEPT = 8000  # bytes of the sandbox's own stderr kept for the staff
ENTROPY_BYTES = 256 * 1024  # what /dev/urandom holds in the sandbox
FIXED_PROC = {"uptime": "1000.00 1000.00\n", "loadavg": "0.00 0.00 0.00 1/1 1\n"}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox run (memory per process and per run, in MiB)."""

    memory_mb: int = 2048
    cpu_seconds: int = 300
    wall_seconds: float = 300.0
    max_processes: int = 64
    file_mb: int = 64
    open_files: int = 256
    cpus: float = 1.0  # CPU share of the whole run, where a cpu control group can be made
    tmp_mb: int = 512  # size of each in-memory folder (/submission, /tmp), charged to memory
    out_mb: int = 128  # what the run may write to the grader's disk (with an older bwrap or
    # none, /submission and /tmp)
    out_files: int = 2000


@dataclass
class SandboxRun:
    """What the trusted side learns about a run besides the harness's own output files."""

    sandboxed: bool
    backend: str
    returncode: int | None
    wall_seconds: float
    timed_out: bool
    oom_killed: bool = False
    peak_memory_bytes: int | None = None
    stderr: str = ""
    notes: list[str] = field(default_factory=list)  # for the student: what the run did to them
    staff_notes: list[str] = field(default_factory=list)  # how the run was isolated, for staff
    uid: int | None = None
    leftover_processes: int = 0
    output_overflow: bool = False
    channel: bytes = b""  # the supervisor's frames (harness/protocol.py), capped at CHANNEL_CAP
    warm: bool = False  # forked from a zygote (warm.py) rather than a fresh interpreter


def _give_to(uid: int, folders: tuple[Path, ...]) -> bool:
    """Make `uid` own every entry of the folders (links themselves, never their targets);
    False when this process may not (root without CAP_CHOWN)."""
    try:
        for folder in folders:
            for root, dirs, files in os.walk(folder):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.lchown(name, uid, uid)
    except PermissionError:
        return False
    return True


def _rlimits(limits: Limits, nproc: int) -> list[int]:
    """The values of RLIMIT_DATA, _CPU, _FSIZE, _NOFILE, _CORE and _NPROC of a run (the order
    zygote.RLIMITS names them in)."""
    mib = 1024 * 1024
    return [
        limits.memory_mb * mib,
        limits.cpu_seconds,
        limits.file_mb * mib,
        limits.open_files,
        0,
        nproc,
    ]


RLIMIT_KINDS = (
    resource.RLIMIT_DATA,
    resource.RLIMIT_CPU,
    resource.RLIMIT_FSIZE,
    resource.RLIMIT_NOFILE,
    resource.RLIMIT_CORE,
    resource.RLIMIT_NPROC,
)


def _limit_child(limits: Limits, group: cgroups.Group | None, uid: int | None, nproc: int) -> None:
    """Runs in the child between fork and exec: join the group, set rlimits, drop uid."""
    os.setsid()
    warm.fix_addresses()  # inherited by bwrap and the harness's Python
    if group is not None:
        group.join()
    for kind, value in zip(RLIMIT_KINDS, _rlimits(limits, nproc)):
        resource.setrlimit(kind, (value, value))
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


@functools.cache
def _fixed_addresses() -> bool:
    """Whether this kernel lets a process turn address randomization off (a container's
    seccomp policy may refuse personality())."""
    try:
        current = warm.libc().personality(0xFFFFFFFF)
        return current != -1 and warm.libc().personality(current) != -1
    except (OSError, AttributeError):
        return False


def _fixed_files(job_dir: Path) -> dict[str, Path]:
    """Files for the sandbox's /dev/urandom (seeded by job.json: the same submission sees
    the same bytes) and fixed /proc files: mount point -> file in the job folder."""
    seed = hashlib.sha256(b"effdl-dev-urandom\0" + (job_dir / "job.json").read_bytes()).digest()
    folder = job_dir / "fixed"
    folder.mkdir(exist_ok=True)
    entropy = folder / "urandom"
    entropy.write_bytes(random.Random(seed).randbytes(ENTROPY_BYTES))
    files = {"/dev/urandom": entropy, "/dev/random": entropy}
    for name, text in FIXED_PROC.items():
        (folder / name).write_text(text)
        files[f"/proc/{name}"] = folder / name
    return files


def _reachable_by_others(path: str) -> bool:
    """Whether a uid other than the owner can reach and execute `path`."""
    for parent in [*bwrap.ancestors(path), path]:
        with contextlib.suppress(OSError):
            if not os.stat(parent).st_mode & 0o001:
                return False
    return True


def _tree_usage(folder: Path, cap_files: int) -> tuple[int, int]:
    """(bytes, files) under folder, counting no further than cap_files + 1 entries."""
    size, count = 0, 0
    stack = [str(folder)]
    while stack and count <= cap_files:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                count += 1
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        size += entry.stat(follow_symlinks=False).st_size
                if count > cap_files:
                    break
    return size, count


def _unpack(channel: bytes, out_dir: Path) -> None:
    """The channel's frames as files, for the staff and for profiling (never read back)."""
    events, printed = [], []
    (out_dir / "calls").mkdir(parents=True, exist_ok=True)
    for kind, index, payload in protocol.frames(channel):
        if kind == protocol.EVENT:
            events.append(payload.decode("utf-8", "replace"))
        elif kind == protocol.RECORD:
            (out_dir / "calls" / f"{index}.json").write_bytes(payload)
        else:
            printed.append(payload)
    (out_dir / "events.jsonl").write_text("".join(e + "\n" for e in events), encoding="utf-8")
    (out_dir / "stdout.txt").write_bytes(b"".join(printed))


def _exit_notifier(pid: int) -> int | None:
    """A pidfd of the process (readable once it has exited), or None where there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class _Drain:
    """The read end of the sandbox's stdout (the channel) or stderr: read as it comes, so the
    run never blocks on it, keeping only the first `keep` bytes. Nothing the sandbox writes
    there reaches the grader's disk; what is dropped is only counted."""

    def __init__(self, pipe: Any, keep: int) -> None:
        self.fd: int | None = pipe.fileno()
        self.pipe = pipe
        self.keep = keep
        self.head = bytearray()
        self.dropped = 0
        os.set_blocking(self.fd, False)

    def read(self) -> None:
        """Take what is in the pipe now (closing it at its end)."""
        while self.fd is not None:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.pipe.close()
                self.fd = None
                return
            room = max(0, self.keep - len(self.head))
            self.head += chunk[:room]
            self.dropped += len(chunk) - min(room, len(chunk))

    def finish(self, seconds: float) -> None:
        """Read to the end of the pipe, for at most `seconds` (a process that outlived the
        run may still hold its write end; kill_uid ends it)."""
        deadline = time.monotonic() + seconds
        while self.fd is not None and time.monotonic() < deadline:
            select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            self.read()
        if self.fd is not None:
            self.pipe.close()
            self.fd = None

    def text(self) -> str:
        text = self.head.decode("utf-8", "replace")
        return text + (f"\n[... {self.dropped} more bytes not kept]" if self.dropped else "")


def _wait_for_exit(
    proc: subprocess.Popen, ended: int | None, seconds: float, *outputs: _Drain
) -> None:
    """Wait up to `seconds` for proc to end, draining its outputs meanwhile. With a pidfd it
    wakes the moment the process ends; without one it looks every 50 ms."""
    deadline = time.monotonic() + seconds
    while proc.poll() is None:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        watched = [fd for fd in (ended, *(o.fd for o in outputs)) if fd is not None]
        wait = left if ended is not None else min(left, 0.05)
        ready, _, _ = select.select(watched, [], [], wait)
        for output in outputs:
            if output.fd is not None and output.fd in ready:
                output.read()
        if ended is not None and ended in ready:
            proc.poll()
            return


def run_harness(
    job_dir: Path, work_dir: Path, out_dir: Path, limits: Limits, slot: int = 0
) -> SandboxRun:
    """Run the harness on a prepared job (job.json and the harness in job_dir, written by
    autograder.grading.job; the submission's files in work_dir). What it found is
    SandboxRun.channel; out_dir receives a copy for the staff (events.jsonl, calls/N.json,
    stdout.txt), written here after the run, which the sandbox never sees and the grader
    never reads back."""
    with claim_uid(slot) as uid:
        return _run_harness(job_dir, work_dir, out_dir, limits, uid)


def _sealed_files(job_dir: Path, cmd: list[str]) -> list[int]:
    """Add bwrap arguments that copy each private share file (slotR.json) into the sandbox's
    own /sealed, and return the descriptors bwrap reads them from. Inside, each file is
    read and deleted by its rank's keeper before any student code runs (harness/sealed.py);
    the sandbox never mounts the folder the grader wrote them in."""
    files = sorted(sealed_dir(job_dir).glob("slot*.json"))
    if not files:
        return []
    cmd += ["--perms", "0777", "--dir", "/sealed"]  # its files are deleted from inside
    fds = []
    for path in files:
        fds.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
        cmd += ["--perms", "0644", "--file", str(fds[-1]), f"/sealed/{path.name}"]
    return fds


def _run_harness(
    job_dir: Path, work_dir: Path, out_dir: Path, limits: Limits, uid: int, warm_ok: bool = True
) -> SandboxRun:
    kind, why = bwrap.backend()
    notes: list[str] = []
    tmp_dir = work_dir.parent / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    fixed = _fixed_files(job_dir) if kind == "bwrap" else {}
    if os.geteuid() == 0:
        kill_uid(uid)  # whatever an earlier grader that crashed may have left under this uid
        if not _give_to(uid, (work_dir, tmp_dir)):
            # root without CAP_CHOWN (a container with no capabilities): the worker uid could
            # not write its own folders, so the run keeps root's uid, and the staff are told
            notes.append(f"ran as root: the run's folders could not be given to uid {uid}")
            uid = 0
        for path in (job_dir, *job_dir.rglob("*")):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    if not _fixed_addresses():
        notes.append("address randomization could not be turned off: id()-based values vary")
    exe, sites = bwrap.python_paths()
    # Not -I: it implies -E, which would ignore the PYTHONHASHSEED the environment sets (and
    # str hashes, so set orders, would differ between gradings). The environment is the
    # grader's own (bwrap --clearenv), so -E guards nothing; -s and -P (3.11+) keep the user
    # site and the working folder off the import path, as -I did.
    harness_args = [exe, "-s", "-S", *(["-P"] if sys.version_info >= (3, 11) else [])]
    site_arg = os.pathsep.join(sites)
    watched: list[Path] = []  # folders of the grader's disk the submission can write to
    fixed_binds = [("ro", str(path), where) for where, path in fixed.items()]
    if kind == "bwrap" and bwrap.sized_tmpfs():
        binds = [("ro", str(job_dir), "/grader"), ("ro", str(work_dir), "/staged"), *fixed_binds]
        tmpfs_bytes = str(limits.tmp_mb * 1024 * 1024)
        tmp = ["--perms", "01777", "--size", tmpfs_bytes, "--tmpfs", "/tmp"]
        cmd = ["bwrap", *bwrap.mounts(binds, tmp)]
        cmd += ["--perms", "01777", "--size", tmpfs_bytes, "--tmpfs", "/submission"]
        harness_dirs = ["/grader", "/submission", site_arg, "/staged"]
    elif kind == "bwrap":
        binds = [("ro", str(job_dir), "/grader"), ("rw", str(work_dir), "/submission")]
        cmd = ["bwrap", *bwrap.mounts([*binds, *fixed_binds], ["--bind", str(tmp_dir), "/tmp"])]
        harness_dirs = ["/grader", "/submission", site_arg]
        watched += [work_dir, tmp_dir]
    sealed_fds = _sealed_files(job_dir, cmd) if kind == "bwrap" else []
    filter_fd = seccomp.filter_fd() if kind == "bwrap" else None
    if filter_fd is not None:
        cmd += ["--seccomp", str(filter_fd)]
    elif kind == "bwrap":
        notes.append(f"no seccomp filter for {platform.machine()}: the key store is open")
    zygote = None
    if warm_ok and kind == "bwrap" and warm.wanted()[0]:
        preimport = json.loads((job_dir / "job.json").read_bytes()).get("preimport", ["numpy"])
        try:  # started (once per worker) before the run's clock starts
            zygote = warm.zygote_for(warm.zygote_modules(preimport))
        except OSError as exc:
            notes.append(f"warm sandbox failed, graded cold: {exc}")
    # What a warm run inherits from its zygote (numpy's and torch's memory) is charged to
    # the zygote: the run's cap is lowered by as much, so that it holds what a cold run's does.
    memory_bytes = limits.memory_mb * 1024 * 1024
    if zygote is not None and memory_bytes - zygote.inherited_bytes < 64 * 1024 * 1024:
        notes.append("warm sandbox not used: the memory cap is below what the zygote holds")
        zygote = None
    use_warm = zygote is not None
    inherited = zygote.inherited_bytes if zygote is not None else 0
    bwrap_cmd = [*cmd, *bwrap.process_args(uid)] if kind == "bwrap" else []
    if kind == "bwrap":
        cmd = [*bwrap_cmd, *harness_args, "-c", LAUNCH, *harness_dirs]
        child_uid = None
    else:
        cmd = [*harness_args, "-c", LAUNCH, str(job_dir), str(work_dir), site_arg]
        watched += [work_dir, tmp_dir]
        child_uid = uid if os.geteuid() == 0 and uid and _reachable_by_others(exe) else None
        if os.geteuid() == 0 and child_uid is None and uid:
            uid = 0
            notes.append(f"ran as root: {exe} is not reachable by an unprivileged uid")
    group = cgroups.create(memory_bytes - inherited, limits.max_processes, limits.cpus)
    env = bwrap.environment() if kind == "bwrap" else {**bwrap.environment(), "HOME": str(work_dir)}
    if kind != "bwrap":
        env["TMPDIR"] = str(tmp_dir)
        env["MPLCONFIGDIR"] = str(tmp_dir / "matplotlib")
    # RLIMIT_NPROC counts all processes of the real uid: a worker uid owns only this run's,
    # while a non-root grader's own uid also owns its desktop, so the cap is set above those.
    own = 0 if os.geteuid() == 0 and uid >= BASE_UID else user_processes(uid)
    nproc = own + limits.max_processes
    before = [_tree_usage(folder, limits.out_files) for folder in watched]
    base_size, base_count = sum(u[0] for u in before), sum(u[1] for u in before)
    started = time.monotonic()
    timed_out = overflow = False
    # The sandbox's stdout (the supervisor's channel) and stderr go to pipes read here, never
    # to a file: a file would be a place on the grader's disk that nothing watches.
    popen: dict[str, Any] = {
        "cwd": work_dir,
        "env": env,
        "pass_fds": (*sealed_fds, *(() if filter_fd is None else (filter_fd,))),
        "preexec_fn": lambda: _limit_child(limits, group, child_uid, nproc),
    }
    proc: Any = None
    try:
        if use_warm:
            request = {
                "uid": uid,
                "rlimits": _rlimits(limits, nproc),
                "seccomp": (seccomp.key_store_filter() or b"").hex(),
                "argv": [LAUNCH, *harness_dirs],
                "flags": harness_args[1:],
            }
            groups = list(group.dirs) if group is not None else []
            try:
                proc = warm.start(zygote, bwrap_cmd, dict(popen), request, groups)
            except OSError as exc:  # nothing of the submission ran: start it cold
                notes.append(f"warm sandbox failed, graded cold: {exc}")
                if group is not None and inherited:  # the cold run's cap is the whole cap
                    group.destroy()
                    group = cgroups.create(memory_bytes, limits.max_processes, limits.cpus)
                    inherited = 0
        if proc is None:
            for fd in (*sealed_fds, *(() if filter_fd is None else (filter_fd,))):
                os.lseek(fd, 0, os.SEEK_SET)  # a failed warm start's bwrap may have read it
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                **popen,
            )
    finally:
        for fd in (*sealed_fds, *(() if filter_fd is None else (filter_fd,))):
            os.close(fd)
    channel = _Drain(proc.stdout, protocol.CHANNEL_CAP)
    output = _Drain(proc.stderr, STDERR_KEPT)
    # Wait, watching what the run writes to the grader's disk (where any of it is on it).
    is_warm = isinstance(proc, warm.WarmRun)
    ended = proc.exit_fd if is_warm else _exit_notifier(proc.pid)
    while proc.poll() is None:
        _wait_for_exit(proc, ended, 0.25, channel, output)
        if proc.returncode is not None:
            break
        usage = [_tree_usage(folder, limits.out_files) for folder in watched]
        size = sum(u[0] for u in usage) - base_size
        count = sum(u[1] for u in usage) - base_count
        overflow = size > limits.out_mb * 1024 * 1024 or count > limits.out_files
        timed_out = time.monotonic() - started > limits.wall_seconds
        if overflow or timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            # the supervisor is in a session of its own (bwrap --new-session), and bwrap's
            # kill-on-exit of it is lost when it drops root: the uid's processes go too
            kill_uid(uid)
            proc.wait()
    if ended is not None and not is_warm:
        os.close(ended)
    channel.finish(1.0)
    output.finish(1.0)
    wall = time.monotonic() - started
    left = kill_uid(uid)
    if is_warm:
        clean = proc.returncode == 0 and not (timed_out or overflow or left)
        proc.finish(clean)
        notes.extend(proc.notes)
    run = SandboxRun(
        sandboxed=kind == "bwrap",
        backend=kind,
        warm=is_warm,
        returncode=proc.returncode,
        wall_seconds=wall,
        timed_out=timed_out,
        stderr=output.text(),
        uid=uid,
        leftover_processes=left,
        output_overflow=overflow,
        channel=bytes(channel.head),
    )
    if channel.dropped:
        run.staff_notes.append(f"harness fault: its channel went {channel.dropped} bytes over")
    _unpack(run.channel, out_dir)
    if kind != "bwrap":
        run.staff_notes.append(f"UNSANDBOXED: {why}")
    run.staff_notes.extend(notes)
    if overflow:
        run.notes.append(
            f"stopped: the submission wrote more than {limits.out_mb} MiB or "
            f"{limits.out_files} files to the grader's disk"
        )
    if left:
        run.staff_notes.append(f"GRADER WARNING: {left} processes of sandbox uid {uid} survived it")
    if group is not None:
        run.oom_killed = group.oom_killed()
        peak = group.peak_bytes()
        run.peak_memory_bytes = None if peak is None else peak + inherited
        group.destroy()
    else:
        run.staff_notes.append("no control group: memory and process caps are per process only")
    # the zygote failed, not the submission (lost mid-run, or the supervisor's process
    # failed its set-up before it wrote a frame): grade it cold
    never_started = run.returncode == warm.SETUP_FAILED and not run.channel
    if is_warm and (proc.faulted or never_started):
        again = _run_harness(job_dir, work_dir, out_dir, limits, uid, warm_ok=False)
        again.staff_notes.extend(n for n in run.staff_notes if n.startswith("zygote fault"))
        if never_started:
            again.staff_notes.append(f"warm sandbox set-up failed: {run.stderr[-300:]}")
        again.staff_notes.append("the warm sandbox failed during the run: graded again cold")
        return again
    return run
