"""The loader: runs the notebook's statements one by one, then forks the runner of the calls.

Statements come from job.json, already chosen and cut by the grader (cells by role, IPython
syntax turned into calls on get_ipython(): see ipython.py); each is compiled here with its
cell's line numbers, so that a student's traceback points at their own line. After every statement the harness's world is
put back (see world.py).
"""

from __future__ import annotations

import builtins
import os
import sys
from typing import Any

from .calls import describe_exception, seed_globals
from .determinism import patch_torch, sleep
from .ipython import install as install_ipython
from .processes import reap_children
from .protocol import send
from .runner import call_groups, run_group
from .torch_cpu import cpu_only
from .world import restore_core, restore_world


def compile_statement(stmt: dict[str, Any]) -> Any:
    """A statement's code object, with the line numbers it has in its cell."""
    padding = "\n" * (max(1, int(stmt["line"])) - 1)
    # dont_inherit: this module's `from __future__ import annotations` is not the notebook's
    # (with it, a cell's annotations would be strings here but not in Jupyter)
    return compile(padding + stmt["code"], f"<cell {stmt['cell']}>", "exec", dont_inherit=True)


def loader(
    job: dict[str, Any],
    state: dict[str, Any],
    pipes: tuple[int, int, int],
    world: dict,
) -> None:
    """Run the notebook's statements, then the calls, one process per graded function (see
    runner.run_group); `pipes`: events and acknowledgements with the supervisor, and the
    records' pipe the call processes write to. Never returns."""
    fd, ack_fd, record_fd = pipes
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    install_ipython(namespace)  # get_ipython(), which IPython syntax turned into Python calls
    stdout = sys.stdout
    seed_globals(0)  # what top-level code draws from the global generators is the same each time
    for k, stmt in enumerate(job["statements"]):
        if k in state["skip"]:
            continue
        if state["defs_only"] and not stmt.get("definition"):
            continue
        send(fd, {"ev": "stmt_start", "k": k})
        try:
            exec(compile_statement(stmt), namespace)
            end = {"ev": "stmt_end", "k": k, "ok": True}
        except BaseException as exc:
            end = {"ev": "stmt_end", "k": k, "ok": False}
            end["error"] = describe_exception(exc)["error"][:300]
        restore_core(world)
        send(fd, end)
        if "torch" in sys.modules:
            cpu_only(sys.modules["torch"])
            patch_torch()
    restore_world(world, stdout)
    if os.getppid() == 1:
        # In the sandbox the calls are made by a fresh child: threads the notebook started in
        # this process (a thread that rewrites results, spins, holds locks) end with it. The
        # supervisor (PID 1) adopts the child when this process exits. First the supervisor
        # clears away the processes the notebook started, which may fill the process table.
        send(fd, {"ev": "clear"})
        os.read(ack_fd, 1)
        reap_children()
        runner = os.fork()
        if runner != 0:
            send(fd, {"ev": "ready", "pid": runner})
            os._exit(0)
        while os.getppid() != 1:  # adopted: the loader, and what ran the statements, ended
            sleep(0.0005)
        os.read(ack_fd, 1)  # the supervisor has killed what else was left: go on
    else:
        send(fd, {"ev": "ready"})
    for group in call_groups(job["calls"], state["done"]):
        run_group(job, group, fd, ack_fd, (namespace, record_fd, world, stdout))
    send(fd, {"ev": "loader_done"})
    os._exit(0)
