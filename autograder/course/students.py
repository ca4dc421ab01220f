"""Student ids: what makes a valid one, and reading them from a roster CSV."""

from __future__ import annotations

import csv
import re
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


def read_roster(path: Path) -> list[str]:
    """The student ids of a roster CSV (a `student_id` column; other columns are ignored)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "student_id" not in reader.fieldnames:
                found = ", ".join(reader.fieldnames or []) or "no header"
                raise RosterError(f"{path}: needs a 'student_id' column (found: {found})")
            ids = []
            for line, row in enumerate(reader, start=2):
                value = (row.get("student_id") or "").strip()
                if not value:
                    raise RosterError(f"{path}:{line}: empty student_id")
                ids.append(check_student_id(value))
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"cannot read roster {path}: {exc}") from exc
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RosterError(f"{path}: duplicate student ids {duplicates}")
    return ids
