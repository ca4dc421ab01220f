"""How the harness's processes talk: event lines from the loader to the supervisor, and
fixed-size messages between the runner and a call process.

The loader runs student code, so what it sends is a claim: the supervisor accepts only
well-formed events of the kinds in LOADER_EVENTS, in an order the real loader could produce.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

LOADER_EVENTS = (
    "stmt_start",
    "stmt_end",
    "clear",
    "ready",
    "call_start",
    "call_end",
    "loader_done",
)


def send(fd: int, event: dict[str, Any]) -> None:
    """Write one event line; `t` (monotonic seconds) is for profiling only, never grading."""
    event["t"] = round(time.monotonic(), 6)
    os.write(fd, (json.dumps(event) + "\n").encode())


def parse_event(line: bytes) -> dict[str, Any] | None:
    """One event line from the loader, or None when it is not a well-formed event."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("ev"), str):
        return None
    for key in ("n", "k"):
        if key in event and (not isinstance(event[key], int) or isinstance(event[key], bool)):
            return None
    return event


def read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from a pipe, or None when it closed first."""
    data = b""
    while len(data) < size:
        try:
            chunk = os.read(fd, size - len(data))
        except InterruptedError:
            continue
        if not chunk:
            return None
        data += chunk
    return data
