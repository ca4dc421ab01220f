"""When a submission came in, and what the course's late policy makes of it.

Submission times come only from the submission system, the first of these that knows one:
  1. Gradescope's submission metadata: a `submission_metadata.json` in the class folder that
     maps entry names or student ids to Gradescope's metadata objects (their `created_at`);
  2. a CSV of times (`student_id,submitted_at` columns, ISO 8601 times);
  3. the time the entry arrived in the class folder: the class folder's entry itself (the
     notebook, the zip or the folder), never the times of files inside it or inside a zip.
Nothing a student can set decides it. A metadata file inside a submission is never read: the
student wrote it. The times stored inside a zip (and restored by tools that unpack it), and a
file's modification time (which whatever wrote the file may set to any date), are the
student's: the arrival time is the later of the entry's modification time and its inode
change time, which no one can set back and which is never earlier than its arrival (a copy
of the class folder made after the due date moves it past the due date too: give the
submission system's times then, a CSV or Gradescope's metadata). Every result names its
source (`SOURCES`).

The policy (course.toml, per assignment) has a due date, per-student extensions, and one of:
  none               late submissions are flagged and keep every point;
  percent_per_day    each started day late costs late_percent_per_day percent of the points,
                     and a submission after the cutoff (if any) gets none;
  zero_after_cutoff  full points until the cutoff (the due date when there is no cutoff),
                     none after it.
An extension replaces the student's due date and moves their cutoff by the same amount.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.course.dates import parse_iso
from autograder.course.settings import AssignmentSettings
from autograder.course.students import RosterError, check_student_id

METADATA_NAME = "submission_metadata.json"
MAX_METADATA_BYTES = 1024 * 1024
DAY = 86400.0


class LateError(ValueError):
    """A times CSV or metadata file that cannot be used."""


SOURCES = {
    "gradescope": "Gradescope's submission metadata",
    "csv": "the submission times CSV given with --times",
    "arrival": "the time the entry arrived in the class folder (never times inside it)",
    "mtime": "the file's modification time (graded before arrival times were used)",
}


def describe_source(source: str | None) -> str:
    """Where a submission time came from, in words for a page."""
    if not source:
        return "no submission time was given, so none was checked against a due date"
    return SOURCES.get(source, source)


@dataclass(frozen=True)
class SubmittedTime:
    """When a submission came in, and which source said so (a key of SOURCES)."""

    at: dt.datetime
    source: str


@dataclass(frozen=True)
class Lateness:
    """A submission's standing against its deadline: `multiplier` is the share of points kept."""

    late: bool
    seconds_late: float
    days_late: int
    multiplier: float
    deadline: dt.datetime | None
    reason: str
    submitted: dt.datetime | None = None
    source: str = ""  # where `submitted` came from (a key of SOURCES); "" when no time is known


def parse_time(text: str, where: str) -> dt.datetime:
    """An ISO 8601 time as an aware datetime (UTC when it has no zone); LateError otherwise."""
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise LateError(f"{where}: {text!r} is not an ISO 8601 time") from exc


def _created_at(meta: Any, where: str) -> dt.datetime | None:
    """`created_at` of a Gradescope metadata object (also the export's ':created_at' key)."""
    if not isinstance(meta, dict):
        return None
    for key in ("created_at", ":created_at"):
        value = meta.get(key)
        if isinstance(value, str):
            return parse_time(value, f"{where}: {key}")
    return None


def _load_json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LateError(f"{where} is not valid JSON: {exc}") from exc


def class_metadata(folder: Path) -> dict[str, dt.datetime]:
    """Times from a class-wide submission_metadata.json: {entry name or student id: time}."""
    path = folder / METADATA_NAME
    if not path.is_file():
        return {}
    if path.stat().st_size > 64 * MAX_METADATA_BYTES:
        raise LateError(f"{path} is too large")
    data = _load_json(path.read_bytes(), str(path))
    if not isinstance(data, dict):
        raise LateError(f"{path}: expected an object mapping submissions to their metadata")
    times = {}
    for key, meta in data.items():
        found = _created_at(meta, f"{path}: {key}")
        if found is not None:
            times[str(key)] = found
    return times


def read_times_csv(path: Path) -> dict[str, dt.datetime]:
    """A CSV with `student_id` and `submitted_at` columns, as {student id: time}."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            if "student_id" not in fields or "submitted_at" not in fields:
                raise LateError(
                    f"{path}: needs 'student_id' and 'submitted_at' columns "
                    f"(found: {', '.join(fields) or 'no header'})"
                )
            times: dict[str, dt.datetime] = {}
            for line, row in enumerate(reader, start=2):
                student = (row.get("student_id") or "").strip()
                try:
                    check_student_id(student)
                except RosterError as exc:
                    raise LateError(f"{path}:{line}: {exc}") from exc
                if student in times:
                    raise LateError(f"{path}:{line}: a second time for {student!r}")
                times[student] = parse_time(row.get("submitted_at") or "", f"{path}:{line}")
    except (OSError, UnicodeDecodeError) as exc:
        raise LateError(f"cannot read times CSV {path}: {exc}") from exc
    return times


def arrival_time(entry: Path) -> dt.datetime:
    """When a class folder's entry arrived there, in UTC: the later of its own modification
    and inode change times (not following a link, never looking inside a folder)."""
    info = entry.lstat()
    return dt.datetime.fromtimestamp(max(info.st_mtime, info.st_ctime), tz=dt.timezone.utc)


def submission_time(
    entry: Path,
    student: str,
    csv_times: dict[str, dt.datetime] | None = None,
    class_times: dict[str, dt.datetime] | None = None,
) -> SubmittedTime:
    """When `entry` was submitted: Gradescope metadata, then the CSV, then its arrival."""
    found = None
    if class_times:
        found = class_times.get(entry.name) or class_times.get(student)
    if found is not None:
        return SubmittedTime(found, "gradescope")
    if csv_times and student in csv_times:
        return SubmittedTime(csv_times[student], "csv")
    return SubmittedTime(arrival_time(entry), "arrival")


def lateness(
    settings: AssignmentSettings, student: str, submitted: dt.datetime | None, source: str = ""
) -> Lateness:
    """Apply the assignment's due date, extensions and late policy to one submission;
    `source` says where `submitted` came from (it is carried into the verdict)."""
    known = {"submitted": submitted, "source": source if submitted is not None else ""}
    due = settings.due
    deadline = settings.extensions.get(student, due)
    if deadline is None or submitted is None:
        reason = "no due date" if deadline is None else ""
        return Lateness(False, 0.0, 0, 1.0, deadline, reason, **known)
    shift = deadline - due if due is not None else dt.timedelta(0)
    cutoff = settings.cutoff + shift if settings.cutoff is not None else None
    seconds = max(0.0, (submitted - deadline).total_seconds())
    days = math.ceil(seconds / DAY) if seconds > 0 else 0
    extended = " (extended)" if student in settings.extensions else ""
    if seconds == 0:
        return Lateness(False, 0.0, 0, 1.0, deadline, f"on time{extended}", **known)
    policy = settings.late_policy
    after_cutoff = cutoff is not None and submitted > cutoff
    if policy == "none":
        multiplier, why = 1.0, "late, no penalty under this course's policy"
    elif policy == "percent_per_day":
        if after_cutoff:
            multiplier, why = 0.0, "after the cutoff"
        else:
            percent = settings.late_percent_per_day * days
            multiplier = max(0.0, 1.0 - percent / 100.0)
            why = f"{days} day(s) late at {settings.late_percent_per_day:g}% per day"
    else:  # zero_after_cutoff
        limit = cutoff if cutoff is not None else deadline
        multiplier = 0.0 if submitted > limit else 1.0
        why = "after the cutoff" if multiplier == 0 else "late, before the cutoff"
    return Lateness(True, seconds, days, multiplier, deadline, why + extended, **known)
