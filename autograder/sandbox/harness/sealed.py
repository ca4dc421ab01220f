"""Calls with a private input: made before the notebook's first statement, by rank processes
that each only ever hold their own share of it.

Such a call's fixture runs the graded function in several processes (the ranks of a process
group), and its private input holds one share per rank. The grader leaves the input out of
job.json and hands share r to the sandbox in a file of its own (/sealed/slotR.json). Before
any student code runs, the supervisor forks one keeper per rank; keeper r reads and deletes
its file (the supervisor never opens one). For each run of each private call, keeper r forks
a rank process that imports the submitted modules, finds the graded function and runs the
fixture's rank function on share r, reporting on a pipe to the supervisor. The supervisor
sends the keepers the call to make, gathers the reports within the call's budget, has the
fixture assemble the call's value from them (data in, data out) and sends it as the call's
record; a call that took at most RERUN_SHARE of its budget is made a second time and must
give the same value, as in calls.run_one. Then the keepers and everything they started are
killed: the notebook's code never runs beside a share, and no process holds two ranks'.

A fixture module takes part with RANKS = {mode: (rank, assemble)}:
  rank(target, kwargs, share, rank_index, world, folder, progress) -> report (plain data),
      run in the rank process; progress(value) passes on how far it got (the last value
      counts if the rank never reports); folder is a fresh empty folder for the group;
  assemble(ranks, kwargs, shape, timed_out) -> the call's value, run in the supervisor;
      ranks[r] is {"report": ..., "progress": ..., "error": ...} (None where missing).
A `seconds` kwarg below the call's budget is the ranks' own deadline: the supervisor waits
that long for their reports (timed_out tells the fixture they were not all in).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import tempfile
from typing import Any

from . import calls, codec
from .channel import Channel
from .determinism import monotonic
from .processes import kill_strays
from .ranks import RANKS, close_all_but, keep_shares, world_of

REPORT_CAP = 1024 * 1024  # bytes of one rank's reports read per run (the largest is ~0.1 MiB)
TAGS = ("K", "P", "R", "E")  # keeper ready, progress, report, error
READY_SECONDS = 10.0  # for every keeper to read and delete its file
FAULT = "EffdlPrivateCallFault"


def private_calls(job: dict[str, Any]) -> list[int]:
    """Indexes of the job's calls with a private input, in order."""
    return [i for i, call in enumerate(job["calls"]) if isinstance(call.get("private"), dict)]


class _Keeper:
    """The supervisor's handle on a keeper: its pid, the pipe it reads calls from and the
    pipe its rank processes report on."""

    def __init__(self, pid: int, go: int, out: int, printed: int) -> None:
        self.pid, self.go, self.out, self.printed = pid, go, out, printed
        self.buffer = b""
        self.kept = 0

    def send(self, message: dict[str, Any]) -> bool:
        try:
            os.write(self.go, (json.dumps(message) + "\n").encode())
            return True
        except OSError:  # it was killed (by student code of an earlier call)
            return False

    def lines(self) -> list[tuple[str, Any]]:
        """The complete lines it sent since the last call, (tag, value), of the first
        REPORT_CAP bytes: read and split in time linear in what came, however it came (a
        rank may write anything on this pipe)."""
        for _ in range(64):  # a rank that floods the pipe cannot hold the supervisor here
            try:
                chunk = os.read(self.out, 1 << 20)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                break
            if self.kept < REPORT_CAP:
                self.buffer += chunk[: REPORT_CAP - self.kept]
            self.kept += len(chunk)
        *complete, self.buffer = self.buffer.split(b"\n")
        out = []
        for line in complete:
            tag, _, text = line.partition(b" ")
            if tag.decode("ascii", "replace") in TAGS:
                with contextlib.suppress(ValueError, RecursionError):
                    out.append((tag.decode(), json.loads(text)))
        return out

    def forget(self) -> None:
        self.lines()
        self.buffer, self.kept = b"", 0


def _start_keeper(job: dict[str, Any], rank: int, folder: str) -> _Keeper:
    go_read, go_write = os.pipe()
    out_read, out_write = os.pipe()
    print_read, print_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            close_all_but({0, 1, 2, go_read, out_write, print_write})
            path = os.path.join(folder, f"slot{rank}.json")
            keep_shares(job, rank, path, (go_read, out_write, print_write))
        finally:
            os._exit(70)
    for fd in (go_read, out_write, print_write):
        os.close(fd)
    os.set_blocking(out_read, False)
    os.set_blocking(print_read, False)
    return _Keeper(pid, go_write, out_read, print_read)


def _wait(keepers: list[_Keeper], done: Any, deadline: float, channel: Channel) -> dict[int, list]:
    """Read the keepers' pipes until done(lines so far) holds or the deadline passes; what
    the ranks print is passed on as the notebook's printed output."""
    got: dict[int, list] = {k: [] for k in range(len(keepers))}
    fds = {keeper.out: k for k, keeper in enumerate(keepers)}
    printed = {keeper.printed for keeper in keepers}
    while not done(got):
        left = deadline - monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([*fds, *printed], [], [], min(left, 0.5))
        for fd in ready:
            if fd in printed:
                _pass_on(fd, channel)
            else:
                _fold(got[fds[fd]], keepers[fds[fd]].lines())
    for fd in printed:
        _pass_on(fd, channel)
    return got


def _fold(kept: list[tuple[str, Any]], new: list[tuple[str, Any]]) -> None:
    """Add a rank's new lines to what is kept of its run: everything up to its first report
    or error, with only the latest progress line (a rank may send any number of them)."""
    for tag, value in new:
        if _final(kept):
            return
        if tag == "P":
            kept[:] = [line for line in kept if line[0] != "P"]
        kept.append((tag, value))


def _pass_on(fd: int, channel: Channel) -> None:
    with contextlib.suppress(OSError):
        for _ in range(64):  # at most 4 MiB at once: a rank that floods it waits its turn
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            channel.print(chunk)


def _final(lines: list) -> bool:
    return any(tag in ("R", "E") for tag, _ in lines)


def _ranks(got: dict[int, list]) -> list[dict[str, Any]]:
    out = []
    for k in sorted(got):
        entry: dict[str, Any] = {"report": None, "progress": None, "error": None}
        for tag, value in got[k]:
            if tag == "P" and entry["report"] is None and entry["error"] is None:
                entry["progress"] = value
            elif tag == "R" and entry["report"] is None and entry["error"] is None:
                entry["report"] = value
            elif tag == "E" and entry["report"] is None and entry["error"] is None:
                entry["error"] = value if isinstance(value, dict) else {"error": str(value)}
        out.append(entry)
    return out


def _sweep(keepers: list[_Keeper]) -> None:
    """As PID 1: kill every process but the keepers (what a rank left running), and wake
    any keeper a rank stopped."""
    kill_strays(keep=-1, spare=0, also={k.pid for k in keepers})
    for keeper in keepers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(keeper.pid, signal.SIGCONT)


def _attempt(
    job: dict[str, Any], index: int, keepers: list[_Keeper], channel: Channel
) -> tuple[dict, float]:
    """One run of private call `index` on the first `world` keepers: (record, seconds)."""
    call = job["calls"][index]
    world = world_of(call)
    timeout = float(call.get("timeout", 10.0))
    kwargs = codec.decode(call.get("kwargs", {"__dict__": []}), inputs=True)
    wait = timeout
    if isinstance(kwargs.get("seconds"), int | float) and 0 < kwargs["seconds"] < timeout:
        wait = float(kwargs["seconds"])  # the ranks' own deadline, within the budget
    group = keepers[:world]
    _sweep(keepers)
    for keeper in keepers:
        keeper.forget()
    folder = tempfile.mkdtemp(prefix="effdl-ranks-")
    started = monotonic()
    message = {"n": index, "folder": folder, "seconds": wait}
    sent = [keeper.send(message) for keeper in group]
    got = _wait(
        group,
        lambda lines: all(_final(lines[k]) or not sent[k] for k in lines),
        started + wait,
        channel,
    )
    seconds = monotonic() - started
    _sweep(keepers)
    shutil.rmtree(folder, ignore_errors=True)
    ranks = _ranks(got)
    timed_out = not all(_final(got[k]) or not sent[k] for k in got)
    missing = [r["error"] for r in ranks if r["error"] and r["report"] is None]
    if missing and len(missing) == world and "error_type" in missing[0]:
        return _error_record(missing[0]), seconds  # e.g. the function is not defined
    try:
        assemble = RANKS[call["mode"]][1]
        value = assemble(ranks, kwargs, tuple(call["private"]["shape"]), timed_out)
        return {"status": "ok", "value": codec.encode(value)}, seconds
    except codec.TooLarge as exc:
        text = f"it returned a value too large to check ({exc}; graded results are small)"
        return {"status": "error", "error": text, "error_type": calls.TOO_LARGE}, seconds
    except BaseException as exc:
        return {"status": "error", **calls.describe_exception(exc), "error_type": FAULT}, seconds


def _error_record(error: dict[str, Any]) -> dict[str, Any]:
    """An error record from what a rank said went wrong: only its texts, cut short (the rank
    runs student code, so its line may hold anything, a status or a value among it)."""
    return {
        "status": "error",
        "error": str(error.get("error", ""))[:2000],
        "error_type": str(error.get("error_type", ""))[:100],
        "traceback": str(error.get("traceback", ""))[:4000],
    }


def _outcome(record: dict[str, Any]) -> str:
    if record["status"] == "ok":
        return json.dumps(record["value"], allow_nan=False)
    return "error " + str(record.get("error_type"))


def _one_call(job: dict[str, Any], index: int, keepers: list[_Keeper], channel: Channel) -> None:
    """Both runs of a private call, and its record and events on the channel."""
    timeout = float(job["calls"][index].get("timeout", 10.0))
    channel.event({"ev": "call_start", "n": index})
    started = monotonic()
    try:
        record, seconds = _both_runs(job, index, keepers, channel, timeout)
    except Exception as exc:  # never the supervisor's end: the call fails, the grading goes on
        seconds = monotonic() - started
        text = f"the grader could not make this call ({type(exc).__name__})"
        record = {"status": "error", "error": text, "error_type": FAULT, "traceback": ""}
    record["seconds"] = f"{min(seconds, 99999.0):012.6f}"
    try:
        payload: bytes | None = json.dumps(record, allow_nan=False).encode()
    except ValueError:
        payload = None
    channel.record(index, payload)
    event = {"ev": "call_end", "n": index, "status": "exited", "record": True}
    event["seconds"] = round(seconds, 4)
    channel.event(event)


def _both_runs(
    job: dict[str, Any], index: int, keepers: list[_Keeper], channel: Channel, timeout: float
) -> tuple[dict[str, Any], float]:
    """The record of a private call from its first run and, if that was quick, a second one
    that must agree; and the first run's seconds."""
    record, seconds = _attempt(job, index, keepers, channel)
    if seconds > timeout:
        record = {"status": "timeout", "error": "it ran past its time budget"}
    elif seconds <= calls.RERUN_SHARE * timeout:
        again, _ = _attempt(job, index, keepers, channel)
        if _outcome(again) != _outcome(record):
            record = {
                "status": "error",
                "error": "it returned different values for the same inputs and seed",
                "error_type": calls.NOT_REPRODUCIBLE,
                "traceback": "",
            }
        record["rerun"] = True
    else:
        record["rerun"] = False
    return record, seconds


def run_private_calls(
    job: dict[str, Any], state: dict[str, Any], channel: Channel, job_dir: str
) -> None:
    """Make every private call of the job (see the module docstring), marking each done."""
    indexes = private_calls(job)
    if not indexes:
        return
    folder = os.path.join(os.path.dirname(os.path.abspath(job_dir)), "sealed")
    keepers: list[_Keeper] = []
    try:
        for rank in range(max(world_of(job["calls"][i]) for i in indexes)):
            keepers.append(_start_keeper(job, rank, folder))
        got = _wait(
            keepers,
            lambda lines: all(lines[k] for k in lines),
            monotonic() + READY_SECONDS,
            channel,
        )
        trouble = [f"rank {k}: {got[k][0][1] if got[k] else 'no answer'}" for k in got
                   if got[k][:1] != [("K", "ok")]]  # fmt: skip
        for index in indexes:
            if trouble:
                text = "the grader could not set up its private inputs (" + "; ".join(trouble)
                text += ")"
                channel.event({"ev": "call_lost", "n": index, "reason": text[:200]})
            else:
                _one_call(job, index, keepers, channel)
            state["done"].add(index)
    finally:
        for keeper in keepers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(keeper.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(keeper.pid, 0)
            for fd in (keeper.go, keeper.out, keeper.printed):
                with contextlib.suppress(OSError):
                    os.close(fd)
        kill_strays(keep=-1)
        for index in indexes:
            state["done"].add(index)
