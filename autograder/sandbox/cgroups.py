"""Control groups that cap one sandbox run's total memory and process count.

Per-process rlimits cannot bound a submission that forks many processes, so where the grader
may create control groups (root, with cgroup v1 memory and pids controllers, or cgroup v2
with both enabled) each run gets its own group. Where the cpu controller is there too, the
group also gets a CPU quota, so that a submission that keeps many processes busy slows only
itself, never the submissions graded beside it. Elsewhere `create` returns None and the
sandbox relies on rlimits and one uid per worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Group:
    """One run's control group: the directories to join, and how to read its memory peak."""

    dirs: tuple[Path, ...]
    version: int

    def join(self) -> None:
        """Move the calling process into the group (called in the child before exec)."""
        pid = str(os.getpid())
        for d in self.dirs:
            (d / "cgroup.procs").write_text(pid)

    def peak_bytes(self) -> int | None:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        for d in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                return int((d / name).read_text())
        return None

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of the group for exceeding the memory cap."""
        for d in self.dirs:
            for name in ("memory.oom_control", "memory.events"):
                with contextlib.suppress(OSError):
                    for line in (d / name).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and int(value) > 0:
                            return True
        return False

    def destroy(self) -> None:
        """Kill whatever still runs in the group, then remove it."""
        for _ in range(50):
            alive = False
            for d in self.dirs:
                with contextlib.suppress(OSError):
                    for pid in (d / "cgroup.procs").read_text().split():
                        alive = True
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.kill(int(pid), signal.SIGKILL)
            if not alive:
                break
            time.sleep(0.02)
        for d in self.dirs:
            with contextlib.suppress(OSError):
                d.rmdir()


def _own_path(controller: str) -> str | None:
    """This process's group path for a v1 controller ('' key for v2), from /proc/self/cgroup."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if (controller and controller in names.split(",")) or (not controller and not names):
                return path
    return None


def _make(parent: Path, name: str, settings: dict[str, str]) -> Path | None:
    target = parent / name
    try:
        target.mkdir()
    except OSError:
        return None
    try:
        for key, value in settings.items():
            (target / key).write_text(value)
    except OSError:
        with contextlib.suppress(OSError):
            target.rmdir()
        return None
    return target


PERIOD_US = 100_000


def create(memory_bytes: int, max_pids: int, cpus: float | None = None) -> Group | None:
    """A fresh group capped at memory_bytes and max_pids (and `cpus` CPUs where the cpu
    controller is available), or None where none can be made."""
    if os.geteuid() != 0:
        return None
    name = f"effdl-{uuid.uuid4().hex[:12]}"
    quota = str(max(1000, int(PERIOD_US * cpus))) if cpus else None
    memory_v1, pids_v1, cpu_v1 = ROOT / "memory", ROOT / "pids", ROOT / "cpu"
    if memory_v1.is_dir() and pids_v1.is_dir():
        mem_parent = memory_v1 / (_own_path("memory") or "/").lstrip("/")
        pid_parent = pids_v1 / (_own_path("pids") or "/").lstrip("/")
        mem = _make(mem_parent, name, {"memory.limit_in_bytes": str(memory_bytes)})
        pids = _make(pid_parent, name, {"pids.max": str(max_pids)}) if mem else None
        if mem and pids:
            with contextlib.suppress(OSError):
                (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
            dirs = [mem, pids]
            if quota and cpu_v1.is_dir():
                cpu_parent = cpu_v1 / (_own_path("cpu") or "/").lstrip("/")
                settings = {"cpu.cfs_period_us": str(PERIOD_US), "cpu.cfs_quota_us": quota}
                cpu = _make(cpu_parent, name, settings)
                if cpu is not None:
                    dirs.append(cpu)
            return Group(tuple(dirs), 1)
        for d in (mem, pids):
            if d is not None:
                with contextlib.suppress(OSError):
                    d.rmdir()
    controllers = ROOT / "cgroup.controllers"
    if controllers.is_file() and {"memory", "pids"} <= set(controllers.read_text().split()):
        parent = ROOT / (_own_path("") or "/").lstrip("/")
        settings = {"memory.max": str(memory_bytes), "pids.max": str(max_pids)}
        group = _make(parent, name, settings)
        if group is not None:
            with contextlib.suppress(OSError):
                (group / "memory.swap.max").write_text("0")
            if quota:
                with contextlib.suppress(OSError):
                    (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            return Group((group,), 2)
    return None
