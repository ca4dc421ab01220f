"""Read what came back from the sandbox, as untrusted data, into plain Python and numpy values.

The grader reads one thing: the channel, the frames the supervisor wrote on its own stdout
(sandbox/harness/protocol.py), which no process that runs student code holds; no file the
sandbox could write is read. The supervisor's events say what it saw itself (calls started
and ended, their seconds, statements skipped); a call's record is passed on only for the call
it was timing, once, in time. Still, the records' and the printed output's bytes are what
student code made, so all of it is parsed defensively: size caps, and the harness's own
codec, which validates every tag (a whitelist of array dtypes, shapes that must match their
bytes, no pickles or objects). A call's value only ever becomes numbers, strings, lists,
tuples, dicts, numpy arrays and Unsupported markers.

The caps are checked before a record is parsed: its size (what the harness's codec allows
one value, plus room for the record), a bound on the values it can hold (JSON needs a comma,
a bracket or a brace per value beyond the first), and the size of all records together,
where the largest are refused first: they are what a submission would inflate. Events,
notes and printed output are capped in number and length as they are read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from autograder.sandbox.harness import protocol
from autograder.sandbox.harness.calls import (
    CHANGED_INPUTS,
    MISSING_NAME,
    NOT_REPRODUCIBLE,
    TOO_LARGE,
)
from autograder.sandbox.harness.codec import (
    VALUE_BYTES_CAP,
    VALUE_ITEMS_CAP,
    BadValue,
    clean_text,
    decode,
)

MAX_FILE_BYTES = protocol.MAX_RECORD_BYTES  # one call's record: its value, error, traceback
MAX_FILE_ITEMS = 4 * VALUE_ITEMS_CAP + 10_000  # commas, brackets and braces in one record
MAX_CALLS_BYTES = 4 * VALUE_BYTES_CAP  # every call's record together
MAX_EVENTS_BYTES = 8 * 1024 * 1024
MAX_NOTES = 40  # notes of the harness kept (and statements reported as skipped)
STDOUT_CHARS = 70_000
TOO_LARGE_MESSAGE = "it returned a value too large to check (graded results are small)"


@dataclass
class CallResult:
    """What became of one call: status is ok, error, missing, timeout, crashed, not_run,
    too_large (its value is over the caps), not_reproducible (two runs differed) or
    changed_inputs (a pure call changed an argument in place)."""

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
    """A record larger than what it may hold, refused before it is parsed."""


def _parse_record(raw: bytes) -> Any:
    if len(raw) > MAX_FILE_BYTES:
        raise OverCap(f"the record is larger than {MAX_FILE_BYTES} bytes")
    if raw.count(b",") + raw.count(b"[") + raw.count(b"{") > MAX_FILE_ITEMS:
        raise OverCap(f"the record holds more than {MAX_FILE_ITEMS} values")
    return json.loads(raw)


def unpack(
    channel: bytes, n_calls: int
) -> tuple[list[dict[str, Any]], dict[int, bytes | None], str]:
    """The channel's events, records (call index -> bytes; None when refused as too large)
    and printed output, each capped as it is read."""
    events: list[dict[str, Any]] = []
    records: dict[int, bytes | None] = {}
    printed = bytearray()
    events_bytes = 0
    for kind, index, payload in protocol.frames(channel[: protocol.CHANNEL_CAP]):
        if kind == protocol.RECORD:
            if 0 <= index < n_calls and index not in records:
                records[index] = payload if len(payload) <= MAX_FILE_BYTES else None
        elif kind == protocol.PRINTED:
            printed += payload[: max(0, STDOUT_CHARS - len(printed))]
        elif events_bytes + len(payload) <= MAX_EVENTS_BYTES:
            events_bytes += len(payload)
            try:
                event = json.loads(payload)
            except ValueError:
                continue
            if isinstance(event, dict) and isinstance(event.get("ev"), str):
                events.append(
                    {k: clean_text(v) if isinstance(v, str) else v for k, v in event.items()}
                )
    for event in events:
        n = event.get("n")
        if event["ev"] == "record_refused" and isinstance(n, int) and 0 <= n < n_calls:
            records.setdefault(n, None)
    return events, records, printed.decode("utf-8", "replace")


def _refused(records: dict[int, bytes | None]) -> set[int]:
    """The calls whose records are left unread because all records together are too large:
    the largest first, until the rest fit in MAX_CALLS_BYTES."""
    sizes = [(len(raw), n) for n, raw in records.items() if raw is not None]
    total = sum(size for size, _ in sizes)
    refused = set()
    for size, n in sorted(sizes, reverse=True):
        if total <= MAX_CALLS_BYTES:
            break
        refused.add(n)
        total -= size
    return refused


def read_output(channel: bytes, n_calls: int) -> HarnessOutput:
    """Collect every call's result and the statement report from the supervisor's channel."""
    events, records, printed = unpack(channel, n_calls)
    ended: dict[int, str] = {}
    seconds: dict[int, float] = {}
    started: set[int] = set()
    lost: dict[int, str] = {}
    output = HarnessOutput(calls=[], stdout=printed)
    more_notes = 0
    for event in events:
        kind = event["ev"]
        n = event.get("n")
        if kind == "call_start" and isinstance(n, int):
            started.add(n)
        elif kind == "call_end" and isinstance(n, int):
            ended[n] = str(event.get("status", ""))[:200]
            if isinstance(event.get("seconds"), int | float):
                seconds[n] = float(event["seconds"])
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
    refused = _refused(records)
    for n in range(n_calls):
        if n in refused or (n in records and records[n] is None):
            output.calls.append(CallResult("too_large", error=TOO_LARGE_MESSAGE))
            continue
        result = _call_result(records.get(n), n, started, ended, lost, output)
        result.seconds = seconds.get(n)
        output.calls.append(result)
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
    raw: bytes | None,
    n: int,
    started: set[int],
    ended: dict[int, str],
    lost: dict[int, str],
    output: HarnessOutput,
) -> CallResult:
    """A call's result: its record when the supervisor passed one on, else what the
    supervisor saw become of the call (its `seconds` are set by the caller, from the
    supervisor's events: a record's own are a claim)."""
    if raw is not None:
        try:
            record = _parse_record(raw)
            if not isinstance(record, dict):
                raise BadValue("record is not an object")
            if record.get("status") == "ok":
                if record.get("rerun") is False:
                    output.not_rerun += 1
                return CallResult("ok", decode(record.get("value")))
            error = clean_text(str(record.get("error", ""))[:3000])
            if record.get("status") == "timeout":
                return CallResult("timeout", error="it ran past its time budget")
            status = {
                MISSING_NAME: "missing",
                TOO_LARGE: "too_large",
                NOT_REPRODUCIBLE: "not_reproducible",
                CHANGED_INPUTS: "changed_inputs",
            }.get(str(record.get("error_type")), "error")
            tb = clean_text(str(record.get("traceback", ""))[:4000])
            return CallResult(status, error=error, traceback=tb)
        except OverCap:
            return CallResult("too_large", error=TOO_LARGE_MESSAGE)
        except (ValueError, RecursionError) as exc:
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
