"""Whether bubblewrap can run here, and the arguments that build the sandbox with it.

The harness sees a read-only system, the Python it needs, the job in /grader (read-only), the
staged submission in /staged (read-only; the harness copies it into /submission),
/submission and /tmp as size-capped in-memory folders private to the run, and no folder of
the grader's it could write to (what it found goes back on the supervisor's stdout); no
network, its own PID namespace (the harness is PID 1, so everything dies with it), and an
unprivileged uid. The repository, the reference library, the hidden checks,
the solutions, the gradebook and other submissions are simply not there: site-packages
entries that would expose the grader (an editable install's finder) are hidden too.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path


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
    probe = [bwrap, *mounts([]), *namespaces(), "--", *drop_root(0), "/bin/true"]
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
    they are folders of the grader's disk, watched while the run lasts.
    """
    probe = ["bwrap", *mounts([], ["--perms", "01777", "--size", "1048576", "--tmpfs", "/tmp"])]
    probe += [*namespaces(), "--", *drop_root(0), "/bin/true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def python_paths() -> tuple[str, list[str]]:
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


def ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


TMP_IN_MEMORY = ("--perms", "01777", "--tmpfs", "/tmp")


def mounts(binds: list[tuple[str, str, str]], tmp: Sequence[str] = TMP_IN_MEMORY) -> list[str]:
    """bwrap arguments for the read-only system, /tmp (`tmp`), Python, and `binds`.

    `binds` are (mode, source, destination). /tmp is mounted before Python's folders so that
    a Python or virtual environment living under /tmp (a fresh clone in `mktemp -d`) is
    mounted on top of it rather than hidden by it.
    """
    exe, sites = python_paths()
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
        for parent in ancestors(path):
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


def namespaces() -> list[str]:
    args = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--as-pid-1"]
    if os.geteuid() == 0:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    return args


def drop_root(uid: int) -> list[str]:
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


def environment() -> dict[str, str]:
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


def process_args(uid: int) -> list[str]:
    """bwrap's arguments after the mounts: namespaces, the working folder /submission, the
    grading environment, then the command that drops root to `uid` (the program follows)."""
    args = [*namespaces(), "--chdir", "/submission", "--clearenv"]
    for key, value in environment().items():
        args += ["--setenv", key, value]
    return [*args, "--", *drop_root(uid)]
