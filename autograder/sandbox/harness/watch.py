"""One loader watched by the supervisor, to its end: its claims, its calls' records, its budgets.

The supervisor is the only writer of what the grader reads (channel.py: its own events, the
calls' records, what the notebook printed). What the loader and the runner send it are
claims: they run student code, or were forked from a process that did. A claim is accepted
only in an order the real ones could produce, and only moves the supervisor's own state:
- first the statements, then the calls: the calls begin only once the loader that ran the
  statements has ended (the supervisor waits for it, kills whatever else is left, drops what
  is still in the pipes, and only then lets the runner go on);
- a call's window opens when the supervisor accepts its start and closes at its end, at its
  deadline or when its process is lost; a record is passed on only for the call whose window
  is open, once, and only if it came within that call's deadline; the call's seconds and how
  it ended are what the supervisor saw.
What no design inside the sandbox can prevent: the record of the call being timed is made in
the process that runs the student's function, so its value, and the verdict of the second
run made in that process (calls.py), are the student code's to choose; that decides only the
student's own answers, and determinism.py makes them the same at every grading.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import sys
from collections.abc import Iterator
from typing import Any

from . import calls
from .channel import Channel, RecordReader
from .determinism import monotonic, sleep
from .loader import loader
from .processes import kill_leftovers, kill_strays
from .protocol import EVENT_LINE_CAP, LOADER_EVENTS, parse_event

DEGRADE_AFTER = 10  # statements skipped for hanging or killing the loader; then 1 s budgets
RECORD_SLACK = 0.25  # seconds past a call's deadline (calls.call_deadline) its record may come
DRAIN_CAP = 32 * 1024 * 1024  # bytes read from a pipe at once, to drop or to finish a record


class Watch:
    """One loader (and the runner it hands over to), watched to its end: its claims, the
    records of its calls, its budgets."""

    def __init__(self, job: dict[str, Any], state: dict[str, Any], channel: Channel) -> None:
        self.job, self.state, self.channel = job, state, channel
        self.current: tuple[str, int, float] | None = None  # ("stmt"|"call", index, deadline)
        self.call = (-1, 0.0, 0.0)  # the call being timed: index, start, its record's deadline
        self.seconds = 0.0  # when its record came
        self.calls_phase = False
        self.records = RecordReader()
        self.finished = False
        self.buffer = b""

    def run(self, world: dict[str, Any]) -> tuple[str, int, str] | None:
        """Run one loader to its end. None when it finished; else what it was doing when it
        hung or died: ("stmt", k, reason), ("call", n, reason) or ("loader", -1, reason)."""
        ev_read, ev_write = os.pipe()
        out_read, out_write = os.pipe()
        ack_read, ack_write = os.pipe()
        rec_read, rec_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            # The loader runs student code: it keeps only its own ends of the pipes, never
            # the channel to the grader.
            for fd in (ev_read, out_read, ack_write, rec_read, self.channel.fd):
                os.close(fd)
            signal.signal(signal.SIGINT, signal.default_int_handler)  # as in any Python
            os.dup2(out_write, 1)
            os.dup2(out_write, 2)
            sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", 0), write_through=True)
            sys.stderr = sys.stdout
            try:
                loader(self.job, self.state, (ev_write, ack_read, rec_write), world)
            finally:
                os._exit(70)
        for fd in (ev_write, out_write, ack_read, rec_write):
            os.close(fd)
        os.set_blocking(rec_read, False)
        self.loader_pid = self.pid = pid
        self.ev_read, self.out_read, self.ack_write, self.rec_read = (
            ev_read,
            out_read,
            ack_write,
            rec_read,
        )
        try:
            return self._watch()
        finally:
            for fd in (ev_read, out_read, ack_write, rec_read):
                with contextlib.suppress(OSError):
                    os.close(fd)
            kill_leftovers()

    def _watch(self) -> tuple[str, int, str] | None:
        budgets = self.job["budgets"]
        reason = ""
        status: int | None = None
        open_fds = [self.ev_read, self.out_read, self.rec_read]
        # A real loader is never silent between statements and calls for long: a loader that
        # falls silent outside a budgeted statement or call is treated as hanging.
        idle_budget = max(10.0, float(budgets["run_all"]))
        last_event = monotonic()
        while open_fds:
            if status is not None:
                timeout = 0.0
            elif self.current is None:
                timeout = 0.5
            else:
                timeout = min(0.5, max(0.0, self.current[2] - monotonic()))
            ready, _, _ = select.select(open_fds, [], [], timeout)
            for fd in ready:
                try:
                    chunk = os.read(fd, 1 << 20 if fd == self.rec_read else 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    open_fds.remove(fd)
                elif fd == self.out_read:
                    self.channel.print(chunk)
                elif fd == self.rec_read:
                    self._take_records(chunk)
                else:
                    self.buffer += chunk
            *lines, self.buffer = self.buffer.split(b"\n")  # linear in what came
            for line in lines:
                event = parse_event(line)
                if event is not None and event["ev"] in LOADER_EVENTS and self._claim(event):
                    last_event = monotonic()
                    if event["ev"] == "ready" and self.pid != self.loader_pid:
                        status = None  # the runner's, not the ended loader's
            if len(self.buffer) > EVENT_LINE_CAP:
                self.buffer = b""  # no event is that long: a line that is not one
            if self.finished or (status is not None and not ready):
                break
            if self.current is not None and monotonic() > self.current[2]:
                reason = "ran past its time budget"
                break
            if self.current is None and status is None and monotonic() - last_event > idle_budget:
                reason = "stopped reporting (the loader hung outside any statement or call)"
                break
            if status is None:
                try:
                    exited, code = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # the runner, not adopted yet: its parent is ending
                    exited, code = 0, 0
                if exited:
                    status = code  # drain what it wrote, then stop
        if status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # a runner whose parent had not ended yet
                status = signal.SIGKILL
        if self.finished:
            return None
        if not reason:
            reason = (
                f"killed by signal {os.WTERMSIG(status)}"
                if os.WIFSIGNALED(status)
                else f"exited with code {os.WEXITSTATUS(status)}"
            )
        if self.current is None:
            return ("loader", -1, reason)
        return (self.current[0], self.current[1], reason)

    def _claim(self, event: dict[str, Any]) -> bool:
        """Act on one claim of the loader or the runner; whether it was accepted."""
        kind, ident = event["ev"], event.get("n", event.get("k", -1))
        statements, job_calls, done = self.job["statements"], self.job["calls"], self.state["done"]
        if kind == "stmt_start":
            if self.calls_phase or self.current is not None:
                return False
            if not 0 <= ident < len(statements) or ident in self.state["skip"]:
                return False
            budget = float(
                self.job["budgets"]["run_all" if statements[ident]["role"] else "untagged"]
            )
            if len(self.state["skip"]) >= DEGRADE_AFTER:
                budget = min(budget, 1.0)
            self.current = ("stmt", ident, monotonic() + budget)
        elif kind == "stmt_end":
            if self.current is None or self.current[:2] != ("stmt", ident):
                return False
            self.current = None
            if event.get("ok") is not True:
                error = str(event.get("error", ""))[:300]
                self.channel.event({"ev": "stmt_end", "k": ident, "ok": False, "error": error})
        elif kind == "clear":
            if not self.calls_phase and self.current is None:
                kill_strays(keep=self.pid)
            self._ack()
        elif kind == "ready":
            if self.calls_phase or self.current is not None:
                return False
            return self._begin_calls(event.get("pid"))
        elif kind == "call_start":
            if not self.calls_phase or self.current is not None:
                return False
            if not 0 <= ident < len(job_calls) or ident in done:
                return False
            self._open_call(ident, event.get("keep"))
        elif kind == "call_end":
            if self.current is None or self.current[:2] != ("call", ident):
                return False
            self._close_call(ident, event.get("status"))
        elif kind == "loader_done":
            if not self.calls_phase or self.current is not None or len(done) < len(job_calls):
                return False
            self.finished = True
            self.channel.event({"ev": "loader_done"})
        return True

    def _begin_calls(self, runner: Any) -> bool:
        """The statements are over. As PID 1: the loader that ran them must end (it is
        killed if it does not), every other process but the runner is killed, what is left in
        the pipes is dropped, and only then is the runner told to go on. Outside a sandbox
        (no PID 1) the loader makes the calls itself."""
        if os.getpid() == 1:
            if not isinstance(runner, int) or isinstance(runner, bool) or runner <= 1:
                return False
            if runner == self.loader_pid:
                return False
            _end(self.loader_pid)
            kill_strays(keep=runner)
            self._drop_pending()
            self.pid = runner
            self._ack()
        self.calls_phase = True
        self.channel.event({"ev": "ready"})
        return True

    def _open_call(self, index: int, spare: Any) -> None:
        self._drain_records(accept=False)
        self.records.reset()
        kill_strays(keep=self.pid, spare=spare if isinstance(spare, int) else 0)
        deadline = calls.call_deadline(float(self.job["calls"][index].get("timeout", 10.0)))
        now = monotonic()
        self.call = (index, now, now + deadline + RECORD_SLACK)
        self.current = ("call", index, now + deadline + 2.0)
        self.channel.event({"ev": "call_start", "n": index})
        self._ack()

    def _close_call(self, index: int, claimed: Any) -> None:
        self._drain_records(accept=True)  # what the call's process wrote before it ended
        self.state["done"].add(index)
        self.current = None
        got = index in self.state["got"]
        seconds = self.seconds if got else monotonic() - self.call[1]
        event = {"ev": "call_end", "n": index, "status": str(claimed)[:200], "record": got}
        event["seconds"] = round(seconds, 4)
        self.channel.event(event)

    def _take_records(self, chunk: bytes) -> None:
        """Pass on the record of the call being timed, once, if it came in time; drop every
        other byte of the records' pipe."""
        if self.current is None or self.current[0] != "call":
            return
        index, started, deadline = self.call
        for claimed, payload in self.records.feed(chunk):
            if claimed != index or index in self.state["got"] or monotonic() > deadline:
                continue
            self.state["got"].add(index)
            self.seconds = monotonic() - started
            self.channel.record(index, payload)

    def _drain_records(self, accept: bool) -> None:
        for chunk in _pending(self.rec_read):
            if accept:
                self._take_records(chunk)

    def _drop_pending(self) -> None:
        for fd in (self.ev_read, self.rec_read):
            for _ in _pending(fd):
                pass
        self.buffer = b""
        self.records.reset()

    def _ack(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self.ack_write, b"k")


def _pending(fd: int) -> Iterator[bytes]:
    """What is in a pipe now, in chunks, up to DRAIN_CAP bytes (never blocks)."""
    taken = 0
    while taken < DRAIN_CAP and select.select([fd], [], [], 0)[0]:
        try:
            chunk = os.read(fd, 1 << 20)
        except (BlockingIOError, OSError):
            return
        if not chunk:
            return
        taken += len(chunk)
        yield chunk


def _end(pid: int) -> None:
    """Let a loader that said it is done end (a second at most), else kill it; reap it."""
    deadline = monotonic() + 1.0
    while monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return
        sleep(0.0005)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
