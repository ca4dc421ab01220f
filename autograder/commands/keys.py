"""`effdl key ASSIGNMENT --roster CSV`: every student's own answers, one row each.

Each student's key comes from their variant (the course's secret and their id), exactly as
`effdl key --student ID` prints it; the table keeps the key's short entries (numbers, words,
and lists of at most SHORT_LIST numbers, written as JSON) as columns named by their path in
the key (a2.W_star, a4.v ...), so that a TA can look a student's numbers up at a glance.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from autograder import plugin
from autograder.commands.exports import safe_cell
from autograder.course.settings import Course

SHORT_LIST = 24


def _short_entries(value: Any, path: str = "") -> dict[str, str]:
    """{path: text} of the key's scalars and short lists of scalars."""
    scalar = (int, float, str, bool)
    if isinstance(value, scalar) or value is None:
        return {path: json.dumps(value) if not isinstance(value, str) else value}
    if (
        isinstance(value, list)
        and len(value) <= SHORT_LIST
        and all(isinstance(v, scalar) for v in value)
    ):
        return {path: json.dumps(value)}
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(_short_entries(v, f"{path}.{k}" if path else str(k)))
    return out


def key_table(assignment: str, course: Course, students: list[str]) -> str:
    """The CSV of every student's own short key entries (see the module docstring)."""
    manifest = plugin.get(assignment)
    rows = []
    for sid in students:
        key = manifest.answer_key(manifest.variant(course.secret, sid))
        rows.append({"student_id": sid, **_short_entries(key)})
    columns = ["student_id"] + sorted({c for r in rows for c in r} - {"student_id"})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c, "")) for c in columns])
    return buffer.getvalue()
