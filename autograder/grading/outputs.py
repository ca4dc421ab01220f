"""Read what the harness wrote, as untrusted data, into plain Python and numpy values.

Everything in the sandbox's output folder could have been written by student code, so this
module parses it defensively: size caps, and the harness's own codec, which validates every
tag (a whitelist of array dtypes, shapes that must match their bytes, no pickles or
objects). A call's value only ever becomes numbers, strings, lists, tuples, dicts, numpy
arrays and Unsupported markers.

The caps are checked before a file is parsed: its size (what the harness's codec allows one
value, plus room for the record), a bound on the values it can hold (JSON needs a comma, a
bracket or a brace per value beyond the first), and the size of all call files together,
where the largest are refused first: they are what a submission would inflate. Event lines,
notes and printed output are capped in number and length as they are read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.sandbox.harness.calls import MISSING_NAME, NOT_REPRODUCIBLE, TOO_LARGE
from autograder.sandbox.harness.codec import (
    VALUE_BYTES_CAP,
    VALUE_ITEMS_CAP,
    BadValue,
    clean_text,
    decode,
)

MAX_FILE_BYTES = VALUE_BYTES_CAP + 256 * 1024  # one call's record: its value, error, traceback
MAX_FILE_ITEMS = 4 * VALUE_ITEMS_CAP + 10_000  # commas, brackets and braces in one record
MAX_CALLS_BYTES = 4 * VALUE_BYTES_CAP  # every call's record together
MAX_EVENTS_BYTES = 8 * 1024 * 1024
MAX_NOTES = 40  # notes of the harness kept (and statements reported as skipped)
STDOUT_CHARS = 70_000
TOO_LARGE_MESSAGE = "it returned a value too large to check (graded results are small)"


@dataclass
class CallResult:
    """What became of one call: status is ok, error, missing, timeout, crashed, not_run,
    too_large (its value is over the caps) or not_reproducible (two runs differed)."""

    status: str
    value: Any = None
    error: str = ""
    traceback: str = ""
    seconds: float | None = None


@dataclass
class HarnessOutput:
    """All of a run's results: per call, plus what happened to the notebook's statements."""

    calls: list[CallResult]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed_statements: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stdout: str = ""
    restarts: int = 0
    statement_count: int = 0
    not_rerun: int = 0  # calls too slow to be made twice: their reproducibility is unknown


class OverCap(BadValue):
    """A file larger than what it may hold, refused before it is parsed."""


def _read_json(path: Path, cap: int) -> Any:
    if path.is_symlink() or not path.is_file():
        raise BadValue(f"{path.name} is not a regular file")
    if path.stat().st_size > cap:
        raise OverCap(f"{path.name} is larger than {cap} bytes")
    with open(path, "rb") as fh:
        raw = fh.read(cap + 1)
    if len(raw) > cap:
        raise OverCap(f"{path.name} is larger than {cap} bytes")
    if raw.count(b",") + raw.count(b"[") + raw.count(b"{") > MAX_FILE_ITEMS:
        raise OverCap(f"{path.name} holds more than {MAX_FILE_ITEMS} values")
    return json.loads(raw)


def _events(out_dir: Path) -> list[dict[str, Any]]:
    path = out_dir / "events.jsonl"
    if not path.is_file() or path.is_symlink():
        return []
    events = []
    with open(path, "rb") as fh:
        for line in fh.read(MAX_EVENTS_BYTES).splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and isinstance(event.get("ev"), str):
                events.append(
                    {k: clean_text(v) if isinstance(v, str) else v for k, v in event.items()}
                )
    return events


def _refused(out_dir: Path, n_calls: int) -> set[int]:
    """The calls whose records are left unread because all records together are too large:
    the largest first, until the rest fit in MAX_CALLS_BYTES."""
    sizes = []
    for n in range(n_calls):
        path = out_dir / "calls" / f"{n}.json"
        try:
            sizes.append((path.lstat().st_size, n))
        except OSError:
            continue
    total = sum(size for size, _ in sizes)
    refused = set()
    for size, n in sorted(sizes, reverse=True):
        if total <= MAX_CALLS_BYTES:
            break
        refused.add(n)
        total -= size
    return refused


def read_output(out_dir: Path, n_calls: int) -> HarnessOutput:
    """Collect every call's result and the statement report from a harness output folder."""
    events = _events(out_dir)
    ended: dict[int, str] = {}
    started: set[int] = set()
    lost: dict[int, str] = {}
    output = HarnessOutput(calls=[])
    more_notes = 0
    for event in events:
        kind = event["ev"]
        n = event.get("n")
        if kind == "call_start" and isinstance(n, int):
            started.add(n)
        elif kind == "call_end" and isinstance(n, int):
            ended[n] = str(event.get("status", ""))[:200]
        elif kind == "call_lost" and isinstance(n, int):
            lost[n] = str(event.get("reason", ""))[:200]
        elif kind == "stmt_skipped":
            if len(output.skipped) < MAX_NOTES:
                output.skipped.append(_short_fields(event))
            else:
                more_notes += 1
        elif kind == "stmt_end" and event.get("ok") is False:
            if len(output.failed_statements) < MAX_NOTES:
                output.failed_statements.append(_short_fields(event))
        elif kind == "note":
            if len(output.notes) < MAX_NOTES:
                output.notes.append(str(event.get("text", ""))[:500])
            else:
                more_notes += 1
        elif kind == "harness_done" and isinstance(event.get("restarts"), int):
            output.restarts = event["restarts"]
        elif kind == "statements" and isinstance(event.get("count"), int):
            output.statement_count = event["count"]
    if more_notes:
        output.notes.append(f"{more_notes} more notes of the grading harness were not kept")
    refused = _refused(out_dir, n_calls)
    for n in range(n_calls):
        if n in refused:
            output.calls.append(CallResult("too_large", error=TOO_LARGE_MESSAGE))
            continue
        output.calls.append(_call_result(out_dir, n, started, ended, lost, output))
    stdout = out_dir / "stdout.txt"
    if stdout.is_file() and not stdout.is_symlink():
        with open(stdout, "rb") as fh:
            output.stdout = fh.read(STDOUT_CHARS).decode("utf-8", "replace")
    return output


def _short_fields(event: dict[str, Any]) -> dict[str, Any]:
    """An event's fields with every value short: they end up in notes (a forged event may
    carry megabytes in any field)."""
    return {str(k)[:40]: _short(v) for k, v in list(event.items())[:20]}


def _short(value: Any) -> Any:
    if isinstance(value, str):
        return value[:500]
    if isinstance(value, bool) or (isinstance(value, int | float) and abs(value) < 1e9):
        return value
    return None


def _call_result(
    out_dir: Path,
    n: int,
    started: set[int],
    ended: dict[int, str],
    lost: dict[int, str],
    output: HarnessOutput,
) -> CallResult:
    path = out_dir / "calls" / f"{n}.json"
    if path.exists():
        try:
            record = _read_json(path, MAX_FILE_BYTES)
            if not isinstance(record, dict):
                raise BadValue("record is not an object")
            seconds = record.get("seconds")
            seconds = float(seconds) if isinstance(seconds, int | float) else None
            if record.get("status") == "ok":
                if record.get("rerun") is False:
                    output.not_rerun += 1
                return CallResult("ok", decode(record.get("value")), seconds=seconds)
            error = clean_text(str(record.get("error", ""))[:3000])
            if record.get("status") == "timeout":
                return CallResult("timeout", error="it ran past its time budget", seconds=seconds)
            status = {
                MISSING_NAME: "missing",
                TOO_LARGE: "too_large",
                NOT_REPRODUCIBLE: "not_reproducible",
            }.get(str(record.get("error_type")), "error")
            tb = clean_text(str(record.get("traceback", ""))[:4000])
            return CallResult(status, error=error, traceback=tb, seconds=seconds)
        except OverCap:
            return CallResult("too_large", error=TOO_LARGE_MESSAGE)
        except (ValueError, OSError, RecursionError) as exc:
            return CallResult("crashed", error=f"its result could not be read: {exc}")
    if n in lost:
        return CallResult("crashed", error=f"the grading process was lost ({lost[n]})")
    status = ended.get(n)
    if status == "timeout":
        return CallResult("timeout", error="it ran past its time budget")
    if status is not None and status.startswith("signal"):
        signal_no = status.split()[-1]
        hint = " (9 is what an out-of-memory kill looks like)" if signal_no == "9" else ""
        return CallResult("crashed", error=f"its process was killed by signal {signal_no}{hint}")
    if status == "exited":
        return CallResult("crashed", error="it ended its process without returning (os._exit?)")
    if status is not None and status.startswith("exit"):
        return CallResult("crashed", error=f"it ended the process itself ({status})")
    if status is not None and status.startswith("not started"):
        return CallResult("crashed", error=f"its process could not be started ({status[:200]})")
    if n in started:
        return CallResult("crashed", error="it started but never reported back")
    return CallResult("not_run", error="it was never called: the notebook run did not get there")
