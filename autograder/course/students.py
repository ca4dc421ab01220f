"""Student ids: what makes a valid one, and reading them from a roster CSV."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

VALID_ID = re.compile(r"^[A-Za-z0-9@+_-][A-Za-z0-9@+._-]{0,63}$")


class RosterError(ValueError):
    """A student id or roster file that cannot be used."""


def check_student_id(student_id: str) -> str:
    """The id itself when it is safe as a folder name; a RosterError saying why otherwise."""
    if not VALID_ID.match(student_id) or student_id in (".", ".."):
        raise RosterError(
            f"student id {student_id!r} is not usable: use 1-64 letters, digits and "
            "@ + . _ - (not starting with a dot)"
        )
    return student_id


@dataclass(frozen=True)
class Student:
    """A student of the roster: the id submissions are named by, and what an LMS shows."""

    student_id: str
    name: str = ""
    email: str = ""


NAME_COLUMNS = ("name", "student_name", "full_name")


def read_people(path: Path) -> list[Student]:
    """The students of a roster CSV: a `student_id` column, and optionally `name` (or
    `student_name`, `full_name`, or `first_name` and `last_name`) and `email`."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            if "student_id" not in fields:
                found = ", ".join(fields) or "no header"
                raise RosterError(f"{path}: needs a 'student_id' column (found: {found})")
            people = []
            end = reader.line_num
            for row in reader:
                line, end = end + 1, reader.line_num  # the row's first line, and its last
                if any("\n" in v or "\r" in v for v in row.values() if isinstance(v, str)):
                    raise RosterError(
                        f"{path}:{line}: a quoted field runs over the line's end (a quote "
                        f"not closed?): this row takes up lines {line}-{end}"
                    )
                value = (row.get("student_id") or "").strip()
                if not value:
                    raise RosterError(f"{path}:{line}: empty student_id")
                name = next((row[c].strip() for c in NAME_COLUMNS if row.get(c)), "")
                if not name and (row.get("first_name") or row.get("last_name")):
                    name = f"{row.get('first_name') or ''} {row.get('last_name') or ''}".strip()
                email = (row.get("email") or "").strip()
                if email and "@" not in email:
                    raise RosterError(f"{path}:{line}: {email!r} is not an email address")
                people.append(Student(check_student_id(value), name[:200], email[:200]))
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read roster {path}: {exc}") from exc
    _check_unique(path, people)
    return people


def _check_unique(path: Path, people: list[Student]) -> None:
    """Ids must differ, also in more than case (ann/ and Ann/ are one folder on macOS and
    Windows), and so must emails: Gradescope and the LMS exports find a student by email, so
    a shared one would give one student's grade to another."""
    ids = [p.student_id for p in people]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RosterError(f"{path}: duplicate student ids {duplicates}")
    by_case: dict[str, list[str]] = {}
    for i in ids:
        by_case.setdefault(i.casefold(), []).append(i)
    clashes = [group for group in by_case.values() if len(group) > 1]
    if clashes:
        shown = "; ".join(" and ".join(group) for group in clashes)
        raise RosterError(
            f"{path}: student ids that differ only in case: {shown} (they would share one "
            "folder where file names ignore case)"
        )
    owners: dict[str, list[str]] = {}
    for p in people:
        if p.email:
            owners.setdefault(p.email.casefold(), []).append(p.student_id)
    shared = {email: who for email, who in owners.items() if len(who) > 1}
    if shared:
        shown = "; ".join(f"{email} ({', '.join(who)})" for email, who in sorted(shared.items()))
        raise RosterError(f"{path}: emails given to more than one student: {shown}")


def read_roster(path: Path) -> list[str]:
    """The student ids of a roster CSV (see read_people)."""
    return [p.student_id for p in read_people(path)]
