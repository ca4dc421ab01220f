"""Scores out of the gradebook as CSV for an LMS.

    effdl export csv --gradebook PATH --assignment NAME [--format plain|canvas|sakai] [--out FILE]

One row per student: each problem's points (hand-graded scores included) and the total,
from the score model (late policy applied), the same total results.json and feedback.html
show; docs/exports.md documents every column of every format.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path
from typing import Any

from autograder import plugin
from autograder.gradebook import Gradebook
from autograder.gradebook.course_file import course_for
from autograder.publishing.class_scores import StudentScore, class_scores
from autograder.publishing.feedback import problem_order
from autograder.publishing.files import write_new
from autograder.publishing.student import pages_agree

FORMATS = ("plain", "canvas", "sakai")


class ExportError(ValueError):
    """An export that cannot be made as asked."""


def _fmt(value: float) -> str:
    return f"{round(value, 2):g}"


def _lms_title(assignment: str, title: str | None) -> str:
    """A column title LMS importers accept: letters, digits and spaces."""
    text = title or assignment
    clean = re.sub(r"[^A-Za-z0-9 ]+", " ", text).strip()
    if not clean:
        raise ExportError(f"the title {text!r} has no letters or digits")
    return re.sub(r" +", " ", clean)


def export_csv(
    gradebook: Path,
    assignment: str,
    fmt: str = "plain",
    course_path: str | None = None,
    title: str | None = None,
) -> str:
    """The CSV text of one assignment's scores in the given format."""
    plugin.get(assignment)
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    with Gradebook.open(gradebook, create=False) as book:
        course = course_for(book, assignment, course_path)
        students = class_scores(book, assignment, course)
    warn_of_stale_pages(students)
    failed = [s.student_id for s in students if not s.result.graded]
    if failed:
        print(
            f"warning: {len(failed)} submission(s) could not be graded and have no score: "
            + ", ".join(failed),
            file=sys.stderr,
        )
    pending = [s.student_id for s in students if s.result.graded and s.score.manual_pending]
    if pending:
        print(
            f"warning: {len(pending)} student(s) have hand-graded questions not graded yet "
            "(they count 0 in the total): " + ", ".join(pending[:10]),
            file=sys.stderr,
        )
    buffer = io.StringIO()
    writer = _SafeWriter(csv.writer(buffer, lineterminator="\n"))
    maximum = max((s.score.maximum for s in students), default=0.0)
    if fmt == "plain":
        _plain(writer, students, maximum)
    elif fmt == "canvas":
        column = _lms_title(assignment, title)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
        writer.writerow(["Points Possible", "", "", "", "", _fmt(maximum)])
        for s in students:
            total = _fmt(s.score.total) if s.result.graded else ""
            name = s.person.name or s.student_id
            writer.writerow([name, "", s.student_id, s.person.email, "", total])
    else:
        column = _lms_title(assignment, title)
        writer.writerow(
            ["Student ID", "Student Name", f"{column} [{_fmt(maximum)}]", f"* {column}"]
        )
        for s in students:
            total = _fmt(s.score.total) if s.result.graded else ""
            comment = _note(s)
            if s.lateness.late and s.result.graded:
                comment = f"late {s.lateness.days_late} day(s): {s.lateness.reason}"
            writer.writerow([s.student_id, s.person.name or s.student_id, total, comment])
    return buffer.getvalue()


def warn_of_stale_pages(students: list[StudentScore]) -> list[str]:
    """Name, in a warning on standard error, every exported student whose results.json and
    feedback.html (where the gradebook says they are) do not show what this export does (a
    course.toml changed since grading: an extension, a late policy; hand-graded scores put in
    by hand). An export only reads: the class command with the same --course rewrites those
    pages (without a regrade). Returns the students named."""
    stale = [
        s.student_id
        for s in students
        if s.row.out_dir
        and Path(s.row.out_dir).is_dir()
        and not pages_agree(s.result, Path(s.row.out_dir), s.manual, s.lateness)
    ]
    if stale:
        print(
            f"warning: the feedback pages of {len(stale)} student(s) do not show the grade "
            "exported here (the course settings changed since they were written, or they "
            "were written with another course file); run `effdl grade --class ...` again with "
            "this --course to rewrite them, no regrade needed: " + ", ".join(stale),
            file=sys.stderr,
        )
    return stale


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell that a spreadsheet will not run as a formula (OWASP's rule: a leading
    quote before = + - @, tab or carriage return, also after leading spaces, which some
    importers trim); numbers pass as they are."""
    if isinstance(value, str) and (
        value.startswith(FORMULA_STARTS) or value.lstrip().startswith(FORMULA_STARTS)
    ):
        return "'" + value
    return value


class _SafeWriter:
    """A csv writer whose every text cell goes through safe_cell: ids, names and notes come
    from students and from files they named."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def writerow(self, row: list[Any]) -> None:
        self.writer.writerow([safe_cell(cell) for cell in row])


def _note(s: StudentScore) -> str:
    if not s.result.graded:
        return s.result.error.splitlines()[0][:200] if s.result.error else "not graded"
    return ""


def _plain(writer: Any, students: list[StudentScore], maximum: float) -> None:
    problems = sorted({p for s in students for p in s.problems()}, key=problem_order)
    writer.writerow(
        [
            "student_id",
            "name",
            "email",
            "status",
            "submitted_at",
            "time_source",
            "days_late",
            "late_multiplier",
            "auto_points",
            "manual_points",
            "raw_total",
            *problems,
            "total",
            "max_total",
            "note",
        ]
    )
    for s in students:
        graded = s.result.graded
        score, standing = s.score, s.lateness
        auto = sum(c.points for c in s.result.checks) if graded else 0.0
        per_problem = s.problems()
        writer.writerow(
            [
                s.student_id,
                s.person.name,
                s.person.email,
                s.row.status,
                s.row.submitted_at or "",
                s.row.submitted_source or "",
                standing.days_late,
                f"{score.multiplier:g}",
                _fmt(auto) if graded else "",
                _fmt(sum(m.points for m in s.manual)),
                _fmt(score.raw) if graded else "",
                *(
                    _fmt(per_problem.get(p, 0.0) * score.multiplier) if graded else ""
                    for p in problems
                ),
                _fmt(score.total) if graded else "",
                _fmt(maximum),
                _note(s) or (standing.reason if standing.late else ""),
            ]
        )


__all__ = ["ExportError", "FORMATS", "export_csv", "write_new"]
