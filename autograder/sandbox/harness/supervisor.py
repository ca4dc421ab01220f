"""The supervisor: PID 1 of the sandbox, the one harness process that runs no student code.

It reads the job, imports what the assignment pre-imports and its fixtures, replaces the
clock and the entropy student code sees (determinism.py), copies the submission into the
private work folder, and starts loaders until every statement and call has run, failed or
been skipped: it drains each loader's output, enforces the time budgets, and starts the next
loader without the statement that hung or killed the previous one.

It is the only writer of what the grader reads (channel.py: its own events, the calls'
records, what the notebook printed); what it accepts of what the loader and the runner send
it, and what that leaves to student code, is watch.py's to say.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import signal
import sys
from typing import Any

from . import calls, determinism, sealed
from .channel import Channel
from .processes import make_undumpable
from .torch_cpu import cpu_only
from .watch import DEGRADE_AFTER, Watch
from .world import snapshot_world

MAX_SKIPPED = 50  # statements skipped for hanging or killing the loader: then only imports,
# functions and classes run (after DEGRADE_AFTER of them, each statement has 1 s)
MAX_LOADER_LOSSES = 2  # loaders lost outside any statement or call


def copy_in(source_dir: str, work_dir: str) -> None:
    """Copy the staged submission into the private, writable work folder."""
    for root, _dirs, files in os.walk(source_dir):
        target = os.path.join(work_dir, os.path.relpath(root, source_dir))
        os.makedirs(target, exist_ok=True)
        for name in files:
            source = os.path.join(root, name)
            if os.path.isfile(source) and not os.path.islink(source):
                shutil.copyfile(source, os.path.join(target, name))


def supervise(job_dir: str, work_dir: str, channel_fd: int, source_dir: str = "") -> None:
    """Start loaders until every statement and call has run, failed, or been skipped."""
    with open(os.path.join(job_dir, "job.json"), "rb") as fh:
        raw = fh.read()
    job = json.loads(raw)
    for module in job.get("preimport", ["numpy"]):
        __import__(module)
    statements = job["statements"]
    if "torch" not in sys.modules and any("torch" in s["code"] for s in statements):
        # Loaded once here rather than in every call's process (a function that imports
        # torch inside would otherwise pay seconds per call, and time out).
        with contextlib.suppress(ImportError):
            __import__("torch")
    import random  # noqa: F401  (loaded once here, not in every call's process)

    if "numpy" in sys.modules:
        import numpy.random  # noqa: F401  (numpy 2 loads it lazily: ~15 ms per call otherwise)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
        cpu_only(sys.modules["torch"])
    fixtures = [importlib.import_module(f"fixtures.{name}") for name in job.get("fixtures", [])]
    if job_dir in sys.path:  # imported: from here on nothing more is loaded from the job
        sys.path.remove(job_dir)
    calls.register_fixtures(fixtures, [name.removesuffix(".py") for name in job.get("modules", [])])
    for module in fixtures:
        sealed.RANKS.update(getattr(module, "RANKS", {}))
    own = [m for n, m in sys.modules.items() if n.split(".")[0] in ("harness", "fixtures")]
    if source_dir:
        copy_in(source_dir, work_dir)
    sys.path.insert(0, work_dir)
    os.chdir(work_dir)
    determinism.install(determinism.seed_of(raw))  # before the snapshot: it is what is put back
    world = snapshot_world(own)
    channel = Channel(channel_fd)
    channel.event({"ev": "statements", "count": len(statements)})
    state: dict[str, Any] = {"skip": set(), "done": set(), "got": set(), "defs_only": False}
    # Calls with private inputs first, while no student code has run (see sealed.py).
    sealed.run_private_calls(job, state, channel, job_dir)
    restarts = losses = 0
    while True:
        outcome = Watch(job, state, channel).run(world)
        if outcome is None:
            break
        restarts += 1
        where, index, reason = outcome
        if where == "stmt" and index not in state["skip"]:
            state["skip"].add(index)
            stmt = statements[index]
            event = {"ev": "stmt_skipped", "k": index, "cell": stmt["cell"]}
            event.update(line=stmt["line"], code=stmt["code"][:200], reason=reason)
        elif where == "call" and index not in state["done"]:
            state["done"].add(index)
            event = {"ev": "call_lost", "n": index, "reason": reason}
        else:
            losses += 1
            event = {"ev": "loader_lost", "reason": reason}
        channel.event(event, always=True)
        if len(state["skip"]) == DEGRADE_AFTER and where == "stmt":
            text = (
                f"{DEGRADE_AFTER} statements were skipped for hanging or ending the process: "
                "from then on each statement had 1 s"
            )
            channel.event({"ev": "note", "text": text}, always=True)
        if len(state["skip"]) >= MAX_SKIPPED and not state["defs_only"]:
            state["defs_only"] = True
            text = (
                f"{MAX_SKIPPED} statements were skipped for hanging or ending the process: "
                "from then on only imports, functions and classes were run"
            )
            channel.event({"ev": "note", "text": text}, always=True)
        if losses > MAX_LOADER_LOSSES:
            break
    channel.finish()
    channel.event({"ev": "harness_done", "restarts": restarts})


def main(argv: list[str]) -> None:
    """argv: JOB_DIR WORK_DIR SITE_DIRS [SOURCE_DIR]; SITE_DIRS is the os.pathsep-joined
    list of site-packages folders to import numpy (and torch) from.

    The sandbox starts it with JOB_DIR first on sys.path (see autograder.sandbox.install),
    where the harness package and its compiled bytecode lie. Before anything else it makes
    itself not dumpable (student code runs as the same uid, in processes forked from it) and
    takes its stdout for the channel to the grader: from then on its fd 1 is its stderr."""
    make_undumpable()
    # PID 1 gets only the signals it handles: Python's own SIGINT handler would let student
    # code end the supervisor with os.kill(1, SIGINT). The loaders restore it for themselves.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel_fd = os.dup(1)
    os.dup2(2, 1)
    sys.path.extend(p for p in argv[2].split(os.pathsep) if p)
    supervise(argv[0], argv[1], channel_fd, argv[3] if len(argv) > 3 else "")
    # Its files are closed: skip the interpreter's teardown (numpy's, torch's), tens of ms.
    os._exit(0)
