"""Read what the harness wrote, as untrusted data, into plain Python and numpy values.

Everything in the sandbox's output folder could have been written by student code, so this
module parses it defensively: size caps, and the harness's own codec, which validates every
tag (a whitelist of array dtypes, shapes that must match their bytes, no pickles or
objects). A call's value only ever becomes numbers, strings, lists, tuples, dicts, numpy
arrays and Unsupported markers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.sandbox.harness.calls import MISSING_NAME
from autograder.sandbox.harness.codec import BadValue, clean_text, decode

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_EVENTS_BYTES = 8 * 1024 * 1024


@dataclass
class CallResult:
    """What became of one call: status is ok, error, missing, timeout, crashed or not_run."""

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


def _read_json(path: Path, cap: int) -> Any:
    if path.is_symlink() or not path.is_file():
        raise BadValue(f"{path.name} is not a regular file")
    if path.stat().st_size > cap:
        raise BadValue(f"{path.name} is larger than {cap} bytes")
    return json.loads(path.read_bytes())


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


def read_output(out_dir: Path, n_calls: int) -> HarnessOutput:
    """Collect every call's result and the statement report from a harness output folder."""
    events = _events(out_dir)
    ended: dict[int, str] = {}
    started: set[int] = set()
    lost: dict[int, str] = {}
    output = HarnessOutput(calls=[])
    for event in events:
        kind = event["ev"]
        n = event.get("n")
        if kind == "call_start" and isinstance(n, int):
            started.add(n)
        elif kind == "call_end" and isinstance(n, int):
            ended[n] = str(event.get("status", ""))
        elif kind == "call_lost" and isinstance(n, int):
            lost[n] = str(event.get("reason", ""))
        elif kind == "stmt_skipped":
            output.skipped.append(event)
        elif kind == "stmt_end" and event.get("ok") is False:
            output.failed_statements.append(event)
        elif kind == "note":
            output.notes.append(str(event.get("text", ""))[:500])
        elif kind == "harness_done" and isinstance(event.get("restarts"), int):
            output.restarts = event["restarts"]
        elif kind == "statements" and isinstance(event.get("count"), int):
            output.statement_count = event["count"]
    for n in range(n_calls):
        output.calls.append(_call_result(out_dir, n, started, ended, lost))
    stdout = out_dir / "stdout.txt"
    if stdout.is_file() and not stdout.is_symlink():
        with open(stdout, "rb") as fh:
            output.stdout = fh.read(70_000).decode("utf-8", "replace")
    return output


def _call_result(
    out_dir: Path, n: int, started: set[int], ended: dict[int, str], lost: dict[int, str]
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
                return CallResult("ok", decode(record.get("value")), seconds=seconds)
            error = clean_text(str(record.get("error", ""))[:3000])
            status = "missing" if record.get("error_type") == MISSING_NAME else "error"
            tb = clean_text(str(record.get("traceback", ""))[:4000])
            return CallResult(status, error=error, traceback=tb, seconds=seconds)
        except (ValueError, OSError, RecursionError) as exc:  # BadValue is a ValueError
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
