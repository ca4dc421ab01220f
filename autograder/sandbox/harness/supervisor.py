"""The supervisor: PID 1 of the sandbox, the one harness process that runs no student code.

It reads the job, imports what the assignment pre-imports and its fixtures, copies the
submission into the private work folder, and starts loaders until every statement and call
has run, failed or been skipped: it drains each loader's output, enforces the time budgets,
and starts the next loader without the statement that hung or killed the previous one.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import select
import shutil
import signal
import sys
import time
from typing import Any

from . import calls
from .loader import loader
from .processes import kill_leftovers, kill_strays, make_undumpable
from .protocol import LOADER_EVENTS, parse_event
from .torch_cpu import cpu_only
from .world import snapshot_world

STDOUT_CAP = 64 * 1024
DEGRADE_AFTER = 10  # statements skipped for hanging or killing the loader; then 1 s budgets
MAX_SKIPPED = 50  # ... and after this many, only imports, functions and classes run
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


def supervise(job_dir: str, work_dir: str, out_dir: str, source_dir: str = "") -> None:
    """Start loaders until every statement and call has run, failed, or been skipped."""
    with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as fh:
        job = json.load(fh)
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
    own = [m for n, m in sys.modules.items() if n.split(".")[0] in ("harness", "fixtures")]
    if source_dir:
        copy_in(source_dir, work_dir)
    os.makedirs(os.path.join(out_dir, "calls"), exist_ok=True)
    sys.path.insert(0, work_dir)
    os.chdir(work_dir)
    world = snapshot_world(own)
    events = os.path.join(out_dir, "events.jsonl")
    with (
        open(events, "a", encoding="utf-8", buffering=1) as log,
        open(os.path.join(out_dir, "stdout.txt"), "wb") as stdout_file,
    ):
        log.write(json.dumps({"ev": "statements", "count": len(statements)}) + "\n")
        state: dict[str, Any] = {"skip": set(), "done": set(), "printed": 0, "defs_only": False}
        restarts = losses = 0
        while True:
            outcome = run_loader(job, state, log, stdout_file, out_dir, world)
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
            log.write(json.dumps(event) + "\n")
            if len(state["skip"]) == DEGRADE_AFTER and where == "stmt":
                text = (
                    f"{DEGRADE_AFTER} statements were skipped for hanging or ending the process: "
                    "from then on each statement had 1 s"
                )
                log.write(json.dumps({"ev": "note", "text": text}) + "\n")
            if len(state["skip"]) >= MAX_SKIPPED and not state["defs_only"]:
                state["defs_only"] = True
                text = (
                    f"{MAX_SKIPPED} statements were skipped for hanging or ending the process: "
                    "from then on only imports, functions and classes were run"
                )
                log.write(json.dumps({"ev": "note", "text": text}) + "\n")
            if losses > MAX_LOADER_LOSSES:
                break
        if state["printed"] > STDOUT_CAP:
            lost = state["printed"] - STDOUT_CAP
            stdout_file.write(f"\n[... {lost} more bytes not kept]\n".encode())
        log.write(json.dumps({"ev": "harness_done", "restarts": restarts}) + "\n")


def run_loader(
    job: dict[str, Any],
    state: dict[str, Any],
    log: Any,
    stdout_file: Any,
    out_dir: str,
    world: dict[str, Any],
) -> tuple[str, int, str] | None:
    """Run one loader to its end. None when it finished; else what it was doing when it
    hung or died: ("stmt", k, reason), ("call", n, reason) or ("loader", -1, reason).

    The loader runs student code, so its events are claims: they are accepted only in an
    order the real loader could produce (a call ends only after it started, the loader is
    done only when every call has ended)."""
    ev_read, ev_write = os.pipe()
    out_read, out_write = os.pipe()
    ack_read, ack_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        # The loader runs student code: it keeps only its own ends of the pipes, not the
        # supervisor's files (events.jsonl, stdout.txt).
        for fd in (ev_read, out_read, ack_write, log.fileno(), stdout_file.fileno()):
            os.close(fd)
        os.dup2(out_write, 1)
        os.dup2(out_write, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", 0), write_through=True)
        sys.stderr = sys.stdout
        try:
            loader(job, state, (ev_write, ack_read), out_dir, world)
        finally:
            os._exit(70)
    os.close(ev_write)
    os.close(out_write)
    os.close(ack_read)
    budgets = job["budgets"]
    statements = job["statements"]
    current: tuple[str, int, float] | None = None  # ("stmt"|"call", index, deadline)
    buffer = b""
    finished = False
    reason = ""
    status: int | None = None
    open_fds = [ev_read, out_read]
    # A real loader is never silent between statements and calls for long: a loader that
    # falls silent outside a budgeted statement or call is treated as hanging.
    idle_budget = max(10.0, float(budgets["run_all"]))
    last_event = time.monotonic()
    while open_fds:
        if status is not None:
            timeout = 0.0
        elif current is None:
            timeout = 0.5
        else:
            timeout = min(0.5, max(0.0, current[2] - time.monotonic()))
        ready, _, _ = select.select(open_fds, [], [], timeout)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
            elif fd == out_read:
                stdout_file.write(chunk[: max(0, STDOUT_CAP - state["printed"])])
                state["printed"] += len(chunk)
            else:
                buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            event = parse_event(line)
            if event is None or event["ev"] not in LOADER_EVENTS:
                continue
            last_event = time.monotonic()
            kind, ident = event["ev"], event.get("n", event.get("k", -1))
            if kind == "stmt_start":
                if not 0 <= ident < len(statements) or ident in state["skip"]:
                    continue
                budget = float(budgets["run_all" if statements[ident]["role"] else "untagged"])
                if len(state["skip"]) >= DEGRADE_AFTER:
                    budget = min(budget, 1.0)
                current = ("stmt", ident, time.monotonic() + budget)
                continue  # routine: not logged
            if kind == "stmt_end":
                if current is None or current[:2] != ("stmt", ident):
                    continue
                current = None
                if event.get("ok") is True:
                    continue
            elif kind == "call_start":
                if not 0 <= ident < len(job["calls"]) or ident in state["done"]:
                    continue
                grace = calls.call_deadline(float(job["calls"][ident].get("timeout", 10.0))) + 2.0
                current = ("call", ident, time.monotonic() + grace)
                kill_strays(keep=pid, keep_children=True)
                with contextlib.suppress(OSError):
                    os.write(ack_write, b"k")
            elif kind == "call_end":
                if current is None or current[:2] != ("call", ident):
                    continue
                state["done"].add(ident)
                current = None
            elif kind == "clear":
                if current is None:
                    kill_strays(keep=pid)
                with contextlib.suppress(OSError):
                    os.write(ack_write, b"k")
                continue  # routine: not logged
            elif kind == "ready":
                if current is not None:
                    continue
                runner = event.get("pid")
                if isinstance(runner, int) and runner > 1 and os.getpid() == 1:
                    pid, status = runner, None  # the calls' process; the loader has ended
            elif kind == "loader_done":
                if len(state["done"]) < len(job["calls"]):
                    continue
                finished = True
            log.write(json.dumps(event) + "\n")
        if finished or (status is not None and not ready):
            break
        if current is not None and time.monotonic() > current[2]:
            reason = "ran past its time budget"
            break
        if current is None and status is None and time.monotonic() - last_event > idle_budget:
            reason = "stopped reporting (the loader hung outside any statement or call)"
            break
        if status is None:
            try:
                exited, code = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # the runner, not adopted yet: its parent is ending
                exited, code = 0, 0
            if exited:
                status = code  # drain what it wrote, then stop
    if status is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # a runner whose parent had not ended yet
            status = signal.SIGKILL
    for fd in [*open_fds, ack_write]:
        os.close(fd)
    kill_leftovers()
    if finished:
        return None
    if not reason:
        reason = (
            f"killed by signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exited with code {os.WEXITSTATUS(status)}"
        )
    if current is None:
        return ("loader", -1, reason)
    return (current[0], current[1], reason)


def main(argv: list[str]) -> None:
    """argv: JOB_DIR WORK_DIR OUT_DIR SITE_DIRS [SOURCE_DIR]; SITE_DIRS is the
    os.pathsep-joined list of site-packages folders to import numpy (and torch) from.

    The sandbox starts it with JOB_DIR first on sys.path (see autograder.sandbox.install),
    where the harness package and its compiled bytecode lie. Before anything else it makes
    itself not dumpable: student code runs as the same uid, in processes forked from it."""
    make_undumpable()
    sys.path.extend(p for p in argv[3].split(os.pathsep) if p)
    supervise(argv[0], argv[1], argv[2], argv[4] if len(argv) > 4 else "")
    # Its files are closed: skip the interpreter's teardown (numpy's, torch's), tens of ms.
    os._exit(0)
