"""Run the harness on one submission in a sandbox, and nothing else.

With bubblewrap (`bwrap`) the harness sees a read-only system, the Python it needs, the
job in /grader (read-only), the staged submission in /staged (read-only; the harness copies
it into /submission), /submission and /tmp as size-capped in-memory folders private to this
run, and an output folder /out; no network, its own PID namespace (the harness is PID 1, so
everything dies with it), an unprivileged uid that no other grading process on the machine
uses at the same time, and limits on memory, CPU (time and share), processes, file size,
output size and wall time. The repository, the reference library, the hidden checks, the
solutions, the gradebook and other submissions are simply not there. Where bwrap cannot run
the grader says so, falls back to a plain subprocess with the same rlimits (under the
worker's uid when it runs as root), and marks the run unsandboxed.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib.util
import os
import py_compile
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder import cgroups

HARNESS = Path(__file__).with_name("harness.py")
# How the sandbox starts the harness: imported from the job folder (first argument), where its
# compiled bytecode lies beside it (see install_harness), then run on the other arguments.
LAUNCH = (
    "import sys; sys.path.insert(0, sys.argv[1]); import harness; del sys.path[0]; "
    "harness.main(sys.argv[1:])"
)
BASE_UID = 61000  # worker k runs as uid BASE_UID + k when the grader is root (and it is free)
UID_POOL = 1024  # uids BASE_UID .. BASE_UID + UID_POOL - 1 are the sandbox's


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
    out_mb: int = 128  # what the run may write to the grader's disk (/out; with an older
    # bwrap, /submission and /tmp too)
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
    notes: list[str] = field(default_factory=list)
    uid: int | None = None
    leftover_processes: int = 0
    output_overflow: bool = False


@functools.lru_cache(maxsize=1)
def backend() -> tuple[str, str]:
    """("bwrap", how) when bubblewrap works here, else ("subprocess", why not)."""
    if os.environ.get("EFFDL_SANDBOX") == "off":
        return "subprocess", "EFFDL_SANDBOX=off was set"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "subprocess", "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "subprocess", "setpriv (util-linux) is missing, so the sandbox cannot drop root"
    probe = [bwrap, *_mounts([]), *_namespaces(), "--", *_drop_root(0), "/bin/true"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "subprocess", f"bwrap could not start: {exc}"
    if result.returncode != 0:
        return "subprocess", f"bwrap does not work here: {result.stderr.strip()[:300]}"
    mode = "as root, dropping to a worker uid" if os.geteuid() == 0 else "in a user namespace"
    return "bwrap", f"bubblewrap {mode}"


@functools.lru_cache(maxsize=1)
def sized_tmpfs() -> bool:
    """Whether this bwrap can make size-capped tmpfs folders (--size, bubblewrap >= 0.8).

    With it, /submission and /tmp live in memory, capped; without it (older distributions)
    they are folders of the grader's disk, watched like /out.
    """
    probe = ["bwrap", *_mounts([], ["--perms", "01777", "--size", "1048576", "--tmpfs", "/tmp"])]
    probe += [*_namespaces(), "--", *_drop_root(0), "/bin/true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _python_paths() -> tuple[str, list[str]]:
    """The real Python binary and the site-packages folders the harness needs."""
    exe = os.path.realpath(sys.executable)
    sites = []
    for key in ("purelib", "platlib"):
        path = os.path.realpath(sysconfig.get_paths()[key])
        if path not in sites and os.path.isdir(path):
            sites.append(path)
    return exe, sites


def _hidden_in(site: str) -> list[tuple[str, str]]:
    """Entries of a site-packages folder that would expose the grader: (kind, path)."""
    hidden = []
    for entry in sorted(os.listdir(site)):
        path = os.path.join(site, entry)
        if entry in ("effdl", "autograder") and os.path.isdir(path):
            hidden.append(("dir", path))
        elif entry.startswith("__editable__") or entry.startswith("effdl_course"):
            hidden.append(("dir" if os.path.isdir(path) else "file", path))
    return hidden


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


TMP_IN_MEMORY = ("--perms", "01777", "--tmpfs", "/tmp")


def _mounts(binds: list[tuple[str, str, str]], tmp: Sequence[str] = TMP_IN_MEMORY) -> list[str]:
    """bwrap arguments for the read-only system, /tmp (`tmp`), Python, and `binds`.

    `binds` are (mode, source, destination). /tmp is mounted before Python's folders so that
    a Python or virtual environment living under /tmp (a fresh clone in `mktemp -d`) is
    mounted on top of it rather than hidden by it.
    """
    exe, sites = _python_paths()
    args: list[str] = []
    for system_dir in ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin", "/etc"):
        if os.path.exists(system_dir):
            args += ["--ro-bind", system_dir, system_dir]
    args += list(tmp)
    prefix = os.path.realpath(sys.base_prefix)
    extra = [prefix] if not prefix.startswith("/usr") else []
    extra += [s for s in sites if not any(s.startswith(p + os.sep) for p in extra)]
    made: set[str] = set()
    for path in extra:
        for parent in _ancestors(path):
            skip = parent == "/tmp" or parent.startswith(("/usr", "/etc", "/lib", "/bin"))
            if parent not in made and not skip:
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        args += ["--ro-bind", path, path]
    for site in sites:
        for kind, path in _hidden_in(site):
            args += ["--tmpfs", path] if kind == "dir" else ["--ro-bind", "/dev/null", path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for mode, source, dest in binds:
        args += ["--bind" if mode == "rw" else "--ro-bind", source, dest]
    return args


def _namespaces() -> list[str]:
    args = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--as-pid-1"]
    if os.geteuid() == 0:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    return args


def _drop_root(uid: int) -> list[str]:
    """Inside the sandbox, become the worker's unprivileged uid with no capabilities left."""
    if os.geteuid() != 0:
        return []
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ]


def _environment() -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/submission",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "EFFDL_GRADING": "1",
    }


def worker_uid(slot: int) -> int:
    """The unprivileged uid of parallel worker `slot` (the grader's own uid when not root)."""
    return BASE_UID + slot if os.geteuid() == 0 else os.geteuid()


def _lock_dir() -> Path:
    """A folder only the grader's user can write, holding one lock file per sandbox uid."""
    for base in ("/run", tempfile.gettempdir()):
        folder = Path(base) / f"effdl-sandbox-uids-{os.geteuid()}"
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, exist_ok=True)
            info = os.lstat(folder)
            if (
                stat.S_ISDIR(info.st_mode)
                and info.st_uid == os.geteuid()
                and not info.st_mode & 0o022
            ):
                return folder
    raise OSError("found no private folder for the sandbox's uid locks")


@contextlib.contextmanager
def claim_uid(slot: int) -> Iterator[int]:
    """Hold a worker uid that no other grading run on this machine uses meanwhile.

    Runs kill every process of their uid when they end, so two runs sharing a uid (two
    `effdl grade` commands started at once, each with slot 0) would kill each other. Each uid
    has a lock file; a run takes BASE_UID + slot when it is free and else the first free uid
    of the pool. Not root: the grader's own uid, which nothing kills.
    """
    if os.geteuid() != 0:
        yield os.geteuid()
        return
    folder = _lock_dir()
    first = slot % UID_POOL
    for k in [first] + [k for k in range(UID_POOL) if k != first]:
        path = folder / f"{BASE_UID + k}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield BASE_UID + k
        finally:
            os.close(fd)  # releases the lock
        return
    raise RuntimeError(f"all {UID_POOL} sandbox uids are in use")


def _limit_child(limits: Limits, group: cgroups.Group | None, uid: int | None, nproc: int) -> None:
    """Runs in the child between fork and exec: join the group, set rlimits, drop uid."""
    os.setsid()
    if group is not None:
        group.join()
    mib = 1024 * 1024
    for name, value in (
        (resource.RLIMIT_DATA, limits.memory_mb * mib),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_mb * mib),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NPROC, nproc),
    ):
        resource.setrlimit(name, (value, value))
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def _reachable_by_others(path: str) -> bool:
    """Whether a uid other than the owner can reach and execute `path`."""
    for parent in [*_ancestors(path), path]:
        with contextlib.suppress(OSError):
            if not os.stat(parent).st_mode & 0o001:
                return False
    return True


def _user_processes(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                count += os.stat(f"/proc/{entry}").st_uid == uid
    return count


def kill_uid(uid: int) -> int:
    """Kill every process of a worker uid (what a submission may have left running).

    Returns how many of its processes are still there five seconds later (0 unless the
    kernel could not kill them; a process in the middle of a large disk write dies only when
    the write returns): a grader that ran as root and is sure the uid is its own only.
    """
    if os.geteuid() != 0 or uid < BASE_UID:
        return 0
    for _ in range(100):
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        left = _user_processes(uid)
        if not left:
            return 0
        time.sleep(0.05)
    return left


def stray_processes() -> dict[int, int]:
    """Processes of sandbox uids that no grading run holds right now: {uid: count}.

    After every run its uid's processes are killed, so this is empty unless a submission
    escaped that; uids that a run (of any grader on this machine) holds are skipped.
    """
    if os.geteuid() != 0:
        return {}
    counts: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                uid = os.stat(f"/proc/{entry}").st_uid
                if BASE_UID <= uid < BASE_UID + UID_POOL:
                    counts[uid] = counts.get(uid, 0) + 1
    folder = _lock_dir()
    for uid in list(counts):
        fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            del counts[uid]  # a run holds it: its processes are its own
        finally:
            os.close(fd)
    return counts


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


def process_args(uid: int) -> list[str]:
    """bwrap's arguments after the mounts: namespaces, the working folder /submission, the
    grading environment, then the command that drops root to `uid` (the program follows)."""
    args = [*_namespaces(), "--chdir", "/submission", "--clearenv"]
    for key, value in _environment().items():
        args += ["--setenv", key, value]
    return [*args, "--", *_drop_root(uid)]


def _exit_notifier(pid: int) -> int | None:
    """A pidfd of the process (readable once it has exited), or None where there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _wait_for_exit(proc: subprocess.Popen, ended: int | None, seconds: float) -> None:
    """Wait up to `seconds` for proc to end. With a pidfd it wakes the moment the process
    ends; Popen.wait with a timeout polls, and loses up to 50 ms per run."""
    if ended is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=seconds)
        return
    select.select([ended], [], [], seconds)
    proc.poll()


@functools.cache
def _harness_bytecode() -> tuple[str, bytes]:
    """The harness compiled once per grader process: (file name in __pycache__, bytes).

    Checked-hash bytecode: Python uses it only while it matches harness.py's bytes."""
    target = importlib.util.cache_from_source(str(HARNESS))
    with tempfile.TemporaryDirectory(prefix="effdl-pyc-") as tmp:
        out = Path(tmp) / Path(target).name
        py_compile.compile(
            str(HARNESS),
            cfile=str(out),
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
        return out.name, out.read_bytes()


def install_harness(job_dir: Path) -> None:
    """Put harness.py and its bytecode into the job folder the sandbox runs it from."""
    shutil.copyfile(HARNESS, job_dir / "harness.py")
    name, code = _harness_bytecode()
    (job_dir / "__pycache__").mkdir(exist_ok=True)
    (job_dir / "__pycache__" / name).write_bytes(code)


def run_harness(
    job_dir: Path, work_dir: Path, out_dir: Path, limits: Limits, slot: int = 0
) -> SandboxRun:
    """Run the harness on a prepared job (job.json in job_dir, files in work_dir)."""
    with claim_uid(slot) as uid:
        return _run_harness(job_dir, work_dir, out_dir, limits, uid)


def _run_harness(
    job_dir: Path, work_dir: Path, out_dir: Path, limits: Limits, uid: int
) -> SandboxRun:
    kind, why = backend()
    notes: list[str] = []
    install_harness(job_dir)
    tmp_dir = work_dir.parent / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        kill_uid(uid)  # whatever an earlier grader that crashed may have left under this uid
        for path in (work_dir, out_dir, tmp_dir):
            for root, dirs, files in os.walk(path):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.lchown(name, uid, uid)
        for path in (job_dir, *job_dir.rglob("*")):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    exe, sites = _python_paths()
    harness_args = [exe, "-I", "-S"]
    site_arg = os.pathsep.join(sites)
    watched = [out_dir]  # folders of the grader's disk the submission can write to
    if kind == "bwrap" and sized_tmpfs():
        binds = [
            ("ro", str(job_dir), "/grader"),
            ("ro", str(work_dir), "/staged"),
            ("rw", str(out_dir), "/out"),
        ]
        tmpfs_bytes = str(limits.tmp_mb * 1024 * 1024)
        tmp = ["--perms", "01777", "--size", tmpfs_bytes, "--tmpfs", "/tmp"]
        cmd = ["bwrap", *_mounts(binds, tmp)]
        cmd += ["--perms", "01777", "--size", tmpfs_bytes, "--tmpfs", "/submission"]
        harness_dirs = ["/grader", "/submission", "/out", site_arg, "/staged"]
    elif kind == "bwrap":
        binds = [
            ("ro", str(job_dir), "/grader"),
            ("rw", str(work_dir), "/submission"),
            ("rw", str(out_dir), "/out"),
        ]
        cmd = ["bwrap", *_mounts(binds, ["--bind", str(tmp_dir), "/tmp"])]
        harness_dirs = ["/grader", "/submission", "/out", site_arg]
        watched += [work_dir, tmp_dir]
    if kind == "bwrap":
        cmd += [*process_args(uid), *harness_args, "-c", LAUNCH, *harness_dirs]
        child_uid = None
    else:
        cmd = [*harness_args, "-c", LAUNCH, str(job_dir), str(work_dir)]
        cmd += [str(out_dir), site_arg]
        watched += [work_dir, tmp_dir]
        child_uid = uid if os.geteuid() == 0 and _reachable_by_others(exe) else None
        if os.geteuid() == 0 and child_uid is None:
            uid = 0
            notes.append(f"ran as root: {exe} is not reachable by an unprivileged uid")
    group = cgroups.create(limits.memory_mb * 1024 * 1024, limits.max_processes, limits.cpus)
    env = _environment() if kind == "bwrap" else {**_environment(), "HOME": str(work_dir)}
    if kind != "bwrap":
        env["TMPDIR"] = str(tmp_dir)
        env["MPLCONFIGDIR"] = str(tmp_dir / "matplotlib")
    # RLIMIT_NPROC counts all processes of the real uid: a worker uid owns only this run's,
    # while a non-root grader's own uid also owns its desktop, so the cap is set above those.
    own = 0 if os.geteuid() == 0 and uid >= BASE_UID else _user_processes(uid)
    nproc = own + limits.max_processes
    before = [_tree_usage(folder, limits.out_files) for folder in watched]
    base_size, base_count = sum(u[0] for u in before), sum(u[1] for u in before)
    started = time.monotonic()
    stderr_path = job_dir.parent / "sandbox-stderr.txt"
    timed_out = overflow = False
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            cmd,
            cwd=work_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            preexec_fn=lambda: _limit_child(limits, group, child_uid, nproc),
        )
        # Wait, watching what the run writes to the grader's disk (only /out is on it).
        ended = _exit_notifier(proc.pid)
        while proc.poll() is None:
            _wait_for_exit(proc, ended, 0.25)
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
                proc.wait()
        if ended is not None:
            os.close(ended)
    wall = time.monotonic() - started
    left = kill_uid(uid)
    run = SandboxRun(
        sandboxed=kind == "bwrap",
        backend=kind,
        returncode=proc.returncode,
        wall_seconds=wall,
        timed_out=timed_out,
        stderr=stderr_path.read_bytes()[:8000].decode("utf-8", "replace"),
        uid=uid,
        leftover_processes=left,
        output_overflow=overflow,
    )
    if kind != "bwrap":
        run.notes.append(f"UNSANDBOXED: {why}")
    run.notes.extend(notes)
    if overflow:
        run.notes.append(
            f"stopped: the submission wrote more than {limits.out_mb} MiB or "
            f"{limits.out_files} files to the grader's disk"
        )
    if left:
        run.notes.append(f"GRADER WARNING: {left} processes of sandbox uid {uid} survived it")
    if group is not None:
        run.oom_killed = group.oom_killed()
        run.peak_memory_bytes = group.peak_bytes()
        group.destroy()
    else:
        run.notes.append("no control group: memory and process caps are per process only")
    return run
