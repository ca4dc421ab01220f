"""The supervisor's two ends of the records' way: the record frames call processes send it,
and the channel to the grader, of which it is the only writer (see protocol.py).

Nothing the grader reads comes from a file or a pipe that student code can write: the
supervisor writes every frame itself, on its own stdout, which no other process holds. What
it passes on is capped here, before it is sent: every event on statements together, the
printed output, each record and all records together.
"""

from __future__ import annotations

import json
from typing import Any

from .determinism import monotonic
from .protocol import (
    EVENT,
    EVENTS_CAP,
    MAX_RECORD_BYTES,
    PRINTED,
    RECORD,
    RECORD_HEADER,
    RECORD_MAGIC,
    RECORDS_CAP,
    STDOUT_CAP,
    frame,
    write_all,
)

CALL_EVENTS = ("statements", "call_start", "call_end", "call_lost", "loader_lost", "ready")
CALL_EVENTS += ("loader_done", "harness_done", "record_refused")


class Channel:
    """Frames to the grader on the supervisor's stdout, each cap checked before sending."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.events_left = EVENTS_CAP
        self.records_left = RECORDS_CAP
        self.printed = 0  # bytes the notebook printed, kept or not
        self.dropped = 0  # events on statements over EVENTS_CAP

    def event(self, event: dict[str, Any], always: bool = False) -> None:
        """One of the supervisor's own events. Events on calls and on the run are bounded by
        the number of calls and restarts; those on statements share EVENTS_CAP."""
        event["t"] = round(monotonic(), 6)  # for profiling only
        data = json.dumps(event).encode()
        if event["ev"] not in CALL_EVENTS and not always:
            if len(data) > self.events_left:
                self.dropped += 1
                return
            self.events_left -= len(data)
        write_all(self.fd, frame(EVENT, 0, data))

    def record(self, index: int, payload: bytes | None) -> None:
        """Pass on call `index`'s record, or say it is too large (None: over MAX_RECORD_BYTES;
        or over what is left of RECORDS_CAP)."""
        if payload is None or len(payload) > self.records_left:
            self.event({"ev": "record_refused", "n": index, "reason": "too_large"})
            return
        self.records_left -= len(payload)
        write_all(self.fd, frame(RECORD, index, payload))

    def print(self, chunk: bytes) -> None:
        """What the notebook printed: the first STDOUT_CAP bytes are passed on."""
        kept = chunk[: max(0, STDOUT_CAP - self.printed)]
        self.printed += len(chunk)
        if kept:
            write_all(self.fd, frame(PRINTED, 0, kept))

    def finish(self) -> None:
        """Say how much was not kept."""
        if self.printed > STDOUT_CAP:
            lost = self.printed - STDOUT_CAP
            write_all(self.fd, frame(PRINTED, 0, f"\n[... {lost} more bytes not kept]\n".encode()))
        if self.dropped:
            text = f"{self.dropped} more reports on statements were not kept"
            self.event({"ev": "note", "text": text}, always=True)


class RecordReader:
    """Record frames from the pipe the call processes share: found by RECORD_MAGIC, so that
    what student code wrote there first is skipped; a payload over MAX_RECORD_BYTES is
    dropped as it comes (never held) and reported as None."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every byte seen (a new call's record starts afresh)."""
        self.buffer = bytearray()
        self.index = -1
        self.size = -1  # the payload's length once a header was read
        self.skipping = 0  # bytes of an oversized payload still to drop

    def feed(self, chunk: bytes) -> list[tuple[int, bytes | None]]:
        """The records `chunk` completes: (call index, payload or None when too large)."""
        done: list[tuple[int, bytes | None]] = []
        if self.skipping:
            dropped = min(self.skipping, len(chunk))
            chunk, self.skipping = chunk[dropped:], self.skipping - dropped
            if not self.skipping:
                done.append((self.index, None))
        self.buffer += chunk
        while True:
            if self.size < 0:
                at = self.buffer.find(RECORD_MAGIC)
                if at < 0:
                    del self.buffer[: max(0, len(self.buffer) - len(RECORD_MAGIC) + 1)]
                    return done
                if len(self.buffer) - at < RECORD_HEADER.size:
                    del self.buffer[:at]
                    return done
                _, self.index, self.size = RECORD_HEADER.unpack_from(self.buffer, at)
                del self.buffer[: at + RECORD_HEADER.size]
                if self.size > MAX_RECORD_BYTES:
                    dropped = min(self.size, len(self.buffer))
                    self.skipping = self.size - dropped
                    del self.buffer[:dropped]
                    self.size = -1
                    if self.skipping:
                        return done
                    done.append((self.index, None))
                    continue
            if len(self.buffer) < self.size:
                return done
            done.append((self.index, bytes(self.buffer[: self.size])))
            del self.buffer[: self.size]
            self.size = -1
