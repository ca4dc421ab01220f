"""The unprivileged uids sandbox runs use: one per run at a time, never shared.

When the grader runs as root, worker k runs its submissions as uid BASE_UID + k (or the first
free uid of the pool); a lock file per uid makes sure no two runs on this machine share one,
since a run kills every process of its uid when it ends. Not root, the grader's own uid is
used (with a user namespace), and nothing is killed by uid.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BASE_UID = 61000  # worker k runs as uid BASE_UID + k when the grader is root (and it is free)

UID_POOL = 1024  # uids BASE_UID .. BASE_UID + UID_POOL - 1 are the sandbox's


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


def user_processes(uid: int) -> int:
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
        left = user_processes(uid)
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
