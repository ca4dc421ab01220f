"""How the harness's processes talk, and how what they found reaches the grader.

Inside the sandbox (processes that run student code -> the supervisor; all claims):
    event lines   the loader and the runner -> supervisor: JSON, one a line, of the kinds in
                  LOADER_EVENTS, accepted only in an order the real loader could produce;
    record frames a call process -> supervisor: RECORD_MAGIC, call index, length (4 bytes
                  each, little-endian), then the record's JSON; found by the magic, so
                  bytes student code wrote into the pipe first are skipped;
    fixed-size messages between the runner and a call process (read_exactly).

Out of the sandbox (the supervisor -> the grader; the only thing the grader reads):
    channel frames on the supervisor's own stdout: a kind byte (EVENT, RECORD, PRINTED),
    the call index and the payload's length (4 bytes each, little-endian), the payload.
    Only the supervisor, which runs no student code, holds that pipe; the grader still
    parses what comes through it as untrusted data (grading/outputs.py), since the payloads
    of records and printed output are what student code made.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from typing import Any

from .codec import VALUE_BYTES_CAP

LOADER_EVENTS = (
    "stmt_start",
    "stmt_end",
    "clear",
    "ready",
    "call_start",
    "call_end",
    "loader_done",
)
EVENT_LINE_CAP = 64 * 1024  # a longer event line is no event the loader sends
RECORD_MAGIC = b"\x00effdl-R"
RECORD_HEADER = struct.Struct("<8sII")
MAX_RECORD_BYTES = VALUE_BYTES_CAP + 256 * 1024  # one call's record: value, error, traceback
RECORDS_CAP = 8 * VALUE_BYTES_CAP  # every record the supervisor passes on, together
EVENTS_CAP = 2 * 1024 * 1024  # the supervisor's reports on statements, together
STDOUT_CAP = 64 * 1024  # what the notebook printed that is kept
EVENT, RECORD, PRINTED = b"E", b"R", b"O"
FRAME_HEADER = struct.Struct("<cII")
# What the grader keeps of the channel: every cap above, plus the events on calls
CHANNEL_CAP = RECORDS_CAP + EVENTS_CAP + STDOUT_CAP + 8 * 1024 * 1024


def send(fd: int, event: dict[str, Any]) -> None:
    """Write one event line. It carries no time: what a process that runs student code
    allocates must not depend on the clock, or id() would differ between gradings (the
    supervisor stamps its own events, channel.py)."""
    write_all(fd, (json.dumps(event) + "\n").encode())


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (a pipe may take a large write in parts)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def send_record(fd: int, index: int, payload: bytes) -> None:
    """A call process's record for call `index`, to the supervisor."""
    write_all(fd, RECORD_HEADER.pack(RECORD_MAGIC, index, len(payload)) + payload)


def parse_event(line: bytes) -> dict[str, Any] | None:
    """One event line from the loader, or None when it is not a well-formed event."""
    if len(line) > EVENT_LINE_CAP:
        return None
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


def frame(kind: bytes, index: int, payload: bytes) -> bytes:
    """One channel frame (the supervisor's side)."""
    return FRAME_HEADER.pack(kind, index, len(payload)) + payload


def frames(data: bytes) -> Iterator[tuple[bytes, int, bytes]]:
    """The channel's frames, (kind, index, payload), up to the first one that is cut short
    or of no known kind (the supervisor died mid-frame, or the bytes are no channel)."""
    at = 0
    while at + FRAME_HEADER.size <= len(data):
        kind, index, size = FRAME_HEADER.unpack_from(data, at)
        at += FRAME_HEADER.size
        if kind not in (EVENT, RECORD, PRINTED) or at + size > len(data):
            return
        yield kind, index, data[at : at + size]
        at += size
