"""A course's own settings, read from a course.toml kept outside the repository.

Without a file every command uses the canonical variant and the default points, and the
hidden inputs are keyed by this installation's own seed key (course/seed_key.py). The file is
named by `--course PATH` or the environment variable EFFDL_COURSE. Layout:

    [course]
    name = "ECE 661, Fall 2026"
    secret = "a long random string: it makes the per-student variants"

    [assignments.NAME]                       # one table per assignment, by its name
    due = 2026-11-06T23:59:00-05:00
    late_policy = "percent_per_day"          # "none", "percent_per_day" or "zero_after_cutoff"
    late_percent_per_day = 10
    cutoff = 2026-11-09T23:59:00-05:00
    true_false_feedback = "count"            # "count" (default): feedback on the true/false
                                             # items says how many are right; "items": it
                                             # also names each wrong item (which, with a few
                                             # submissions, gives the key away)
    [assignments.NAME.points]                # per-check overrides, by check id
    "a2.closed_form" = 5
    [assignments.NAME.extensions]
    alice = 2026-11-08T23:59:00-05:00

A name or key this layout does not have is an error, not ignored: an assignment table for no
installed assignment, a [course] key other than name, secret and seed_key, a late policy
without a due date, and (checked where grading starts, as it imports the checks) a point
override for a check id the assignment does not have.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.course.dates import aware, parse_iso
from autograder.course.seed_key import seed_key_or_none

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LATE_POLICIES = ("none", "percent_per_day", "zero_after_cutoff")
TRUE_FALSE_FEEDBACK = ("count", "items")
COURSE_KEYS = ("name", "secret", "seed_key")


class CourseError(ValueError):
    """course.toml is missing, unreadable or holds a value of the wrong kind."""


@dataclass(frozen=True)
class AssignmentSettings:
    """Per-assignment settings: due date, late policy, extensions, point overrides, and how
    much the true/false feedback reveals."""

    due: dt.datetime | None = None
    late_policy: str = "none"
    late_percent_per_day: float = 0.0
    cutoff: dt.datetime | None = None
    extensions: dict[str, dt.datetime] = field(default_factory=dict)
    points: dict[str, float] = field(default_factory=dict)
    true_false_feedback: str = "count"


@dataclass(frozen=True)
class Course:
    """The course: its name, the variant secret (None: canonical) and assignment settings.
    seed_key keys the hidden inputs' seeds where there is no secret (course/seed_key.py):
    load_course fills it, so that every worker a course is sent to draws the same inputs."""

    name: str = "effdl-course"
    secret: str | None = None
    path: Path | None = None
    assignments: dict[str, AssignmentSettings] = field(default_factory=dict)
    seed_key: str | None = field(default=None, repr=False)

    def settings(self, assignment: str) -> AssignmentSettings:
        return self.assignments.get(assignment, AssignmentSettings())


def _as_datetime(value: Any, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return aware(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, 23, 59, 59, tzinfo=dt.timezone.utc)
    if isinstance(value, str):
        try:
            return parse_iso(value)
        except ValueError as exc:
            raise CourseError(f"{where}: {value!r} is not an ISO date-time") from exc
    raise CourseError(f"{where}: expected a date-time, got {type(value).__name__}")


def _assignment_settings(name: str, raw: Any) -> AssignmentSettings:
    where = f"[assignments.{name}]"
    if not isinstance(raw, dict):
        raise CourseError(f"{where} must be a table")
    known = {
        "due",
        "late_policy",
        "late_percent_per_day",
        "cutoff",
        "extensions",
        "points",
        "true_false_feedback",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CourseError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
    policy = raw.get("late_policy", "none")
    if policy not in LATE_POLICIES:
        raise CourseError(f"{where}.late_policy: {policy!r} is not one of {LATE_POLICIES}")
    reveal = raw.get("true_false_feedback", "count")
    if reveal not in TRUE_FALSE_FEEDBACK:
        raise CourseError(
            f"{where}.true_false_feedback: {reveal!r} is not one of {TRUE_FALSE_FEEDBACK}"
        )
    percent = raw.get("late_percent_per_day", 0.0)
    if not isinstance(percent, int | float) or not 0 <= percent <= 100:
        raise CourseError(f"{where}.late_percent_per_day must be a number in [0, 100]")
    points = raw.get("points", {})
    if not isinstance(points, dict) or not all(
        isinstance(v, int | float) and v >= 0 for v in points.values()
    ):
        raise CourseError(f"{where}.points must map check ids to non-negative numbers")
    extensions = raw.get("extensions", {})
    if not isinstance(extensions, dict):
        raise CourseError(f"{where}.extensions must map student ids to date-times")
    due = _as_datetime(raw["due"], f"{where}.due") if "due" in raw else None
    cutoff = _as_datetime(raw["cutoff"], f"{where}.cutoff") if "cutoff" in raw else None
    if cutoff is not None and due is None:
        raise CourseError(f"{where}: a cutoff needs a due date")
    if policy != "none" and due is None:
        raise CourseError(f"{where}: late_policy = {policy!r} needs a due date")
    if cutoff is not None and due is not None and cutoff < due:
        raise CourseError(f"{where}: the cutoff {cutoff} is before the due date {due}")
    return AssignmentSettings(
        due=due,
        late_policy=policy,
        late_percent_per_day=float(percent),
        cutoff=cutoff,
        extensions={
            str(k): _as_datetime(v, f"{where}.extensions.{k}") for k, v in extensions.items()
        },
        points={str(k): float(v) for k, v in points.items()},
        true_false_feedback=reveal,
    )


def load_course(path: str | os.PathLike[str] | None = None) -> Course:
    """Read course.toml from `path`, else from $EFFDL_COURSE, else the canonical course."""
    if path is None:
        path = os.environ.get("EFFDL_COURSE") or None
    if path is None:
        return Course(seed_key=seed_key_or_none())
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"course file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CourseError(f"course file {path} is not valid TOML: {exc}") from exc
    head = raw.get("course", {})
    if not isinstance(head, dict):
        raise CourseError(f"{path}: [course] must be a table")
    unknown = sorted(set(head) - set(COURSE_KEYS))
    if unknown:
        raise CourseError(
            f"{path}: [course] has unknown keys {unknown}{_closest(unknown[0], COURSE_KEYS)}; "
            f"known: {list(COURSE_KEYS)}"
        )
    secret = head.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) < 8):
        raise CourseError(f"{path}: course.secret must be a string of at least 8 characters")
    assignments = raw.get("assignments", {})
    if not isinstance(assignments, dict):
        raise CourseError(f"{path}: [assignments] must be a table of tables")
    _check_assignment_names(path, list(assignments))
    try:
        settings = {k: _assignment_settings(k, v) for k, v in assignments.items()}
    except CourseError as exc:
        raise CourseError(f"{path}: {exc}") from None
    return Course(
        name=str(head.get("name", "effdl-course")),
        secret=secret,
        path=path,
        assignments=settings,
        seed_key=None if secret else _seed_key(head, path),
    )


def _closest(word: str, known: Sequence[str]) -> str:
    """'; did you mean X?' for the known word nearest a misspelt one, else nothing."""
    near = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _check_assignment_names(path: Path, names: list[str]) -> None:
    """A table [assignments.X] whose X is no installed assignment is a typo whose settings
    (a due date, a late policy) would otherwise be dropped without a word."""
    from autograder import plugin

    known = plugin.names()
    for name in names:
        if name not in known:
            raise CourseError(
                f"{path}: [assignments.{name}] names no installed assignment"
                f"{_closest(name, known)}; known: {', '.join(known)}"
            )


def check_point_ids(course: Course, assignment: str, ids: Sequence[str]) -> None:
    """Refuse point overrides for check ids the assignment's suite does not have (`ids`):
    a misspelt id would leave that check at its default points without a word."""
    for given in course.settings(assignment).points:
        if given not in ids:
            where = f"{course.path}: " if course.path else ""
            raise CourseError(
                f"{where}[assignments.{assignment}.points]: {given!r} is no check of "
                f"{assignment}{_closest(given, ids)}"
            )


def _seed_key(head: dict[str, Any], path: Path) -> str | None:
    """course.seed_key (written by `effdl export gradescope` for a course without a secret),
    else this installation's."""
    given = head.get("seed_key")
    if given is None:
        return seed_key_or_none()
    if not isinstance(given, str) or len(given) < 16:
        raise CourseError(f"{path}: course.seed_key must be a string of at least 16 characters")
    return given
