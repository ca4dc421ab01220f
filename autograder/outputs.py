"""Read what the harness wrote, as untrusted data, into plain Python and numpy values.

Everything in the sandbox's output folder could have been written by student code, so this
module parses it defensively: size caps, a whitelist of array dtypes, shapes that must match
their bytes, and no pickles or objects. A call's value only ever becomes numbers, strings,
lists, tuples, dicts and numpy arrays.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_EVENTS_BYTES = 8 * 1024 * 1024
ARRAY_KINDS = "biufc"
MISSING_NAME = "EffdlNameMissing"


class BadOutput(ValueError):
    """The harness output is not well-formed data."""


def clean_text(text: str) -> str:
    """`text` without lone surrogates (valid JSON, but they cannot be written as UTF-8, so a
    message holding one would stop the grader while it writes feedback)."""
    return text.encode("utf-8", "replace").decode("utf-8")


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


def decode_value(data: Any, depth: int = 0) -> Any:
    """Turn the harness's JSON encoding back into values (see harness.encode)."""
    if depth > 40:
        raise BadOutput("value nested too deeply")
    if isinstance(data, str):
        return clean_text(data)
    if data is None or isinstance(data, bool | int | float):
        return data
    if isinstance(data, list):
        return [decode_value(v, depth + 1) for v in data]
    if not isinstance(data, dict):
        raise BadOutput(f"unexpected JSON type {type(data).__name__}")
    if "__ndarray__" in data:
        return _decode_array(data)
    if "__stacked__" in data:  # a list of arrays of one shape, sent as one array
        stacked = data["__stacked__"]
        array = _decode_array(stacked) if isinstance(stacked, dict) else None
        if array is None or array.ndim == 0:
            raise BadOutput("a stacked list must be an array with at least one dimension")
        return list(array)
    if "__tuple__" in data:
        return tuple(decode_value(v, depth + 1) for v in _list(data["__tuple__"]))
    if "__float__" in data:
        text = str(data["__float__"])[:40]
        try:
            return float(text)  # nan, inf, -inf, or an integer too large for JSON's ints
        except ValueError:
            raise BadOutput(f"bad float tag {text!r}") from None
    if "__dict__" in data:
        out = {}
        for pair in _list(data["__dict__"]):
            if not isinstance(pair, list) or len(pair) != 2:
                raise BadOutput("bad dict entry")
            key = decode_value(pair[0], depth + 1)
            if not isinstance(key, str | int | float | bool | tuple) and key is not None:
                raise BadOutput("unhashable dict key")
            out[key] = decode_value(pair[1], depth + 1)
        return out
    if "__unsupported__" in data:
        return Unsupported(str(data["__unsupported__"])[:200])
    raise BadOutput(f"unknown tagged value with keys {sorted(data)[:5]}")


@dataclass(frozen=True)
class Unsupported:
    """A returned object that is not data (a custom class, a generator, ...): its type name."""

    type_name: str


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise BadOutput("expected a list")
    return value


def _decode_array(data: dict[str, Any]) -> np.ndarray:
    if "__ndarray__" not in data or "dtype" not in data:
        raise BadOutput("an array needs its data and its dtype")
    try:
        dtype = _dtype(str(data["dtype"])[:40])
    except TypeError as exc:
        raise BadOutput(f"bad dtype {data.get('dtype')!r}") from exc
    if dtype.kind not in ARRAY_KINDS or dtype.hasobject:
        raise BadOutput(f"dtype {dtype} is not numeric")
    shape = data.get("shape")
    if not isinstance(shape, list) or len(shape) > 32:
        raise BadOutput("bad shape")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise BadOutput("bad shape")
    raw = base64.b64decode(str(data["__ndarray__"]), validate=True)
    count = math.prod(shape)
    if count * dtype.itemsize != len(raw):
        raise BadOutput(f"{len(raw)} bytes do not fill shape {shape} of {dtype}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


@functools.lru_cache(maxsize=64)
def _dtype(name: str) -> np.dtype:
    return np.dtype(name)


def _read_json(path: Path, cap: int) -> Any:
    if path.is_symlink() or not path.is_file():
        raise BadOutput(f"{path.name} is not a regular file")
    if path.stat().st_size > cap:
        raise BadOutput(f"{path.name} is larger than {cap} bytes")
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
                raise BadOutput("record is not an object")
            seconds = record.get("seconds")
            seconds = float(seconds) if isinstance(seconds, int | float) else None
            if record.get("status") == "ok":
                return CallResult("ok", decode_value(record.get("value")), seconds=seconds)
            error = clean_text(str(record.get("error", ""))[:3000])
            status = "missing" if record.get("error_type") == MISSING_NAME else "error"
            tb = clean_text(str(record.get("traceback", ""))[:4000])
            return CallResult(status, error=error, traceback=tb, seconds=seconds)
        except (BadOutput, ValueError, OSError, RecursionError) as exc:
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
