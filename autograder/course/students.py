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
            for line, row in enumerate(reader, start=2):
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
    ids = [p.student_id for p in people]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RosterError(f"{path}: duplicate student ids {duplicates}")
    return people


def read_roster(path: Path) -> list[str]:
    """The student ids of a roster CSV (see read_people)."""
    return [p.student_id for p in read_people(path)]
