"""Which course.toml a gradebook's pages are rendered with, so that no command re-renders a
student's results.json and feedback.html with other settings than the grading's silently.

Every command that writes students' pages from a gradebook (the class batch, `manual
import`, `manual serve`; `export csv` only reads them, and warns where they disagree) records
the course file it used (its absolute path, or none) and a fingerprint of what in it shapes a
page: the secret (which makes the variants and each student's own key), the due date,
cutoff, late policy, extensions, point overrides and true/false feedback of the assignment.
A later command given no --course (nor $EFFDL_COURSE) uses the recorded file while its
fingerprint still matches; a file that is gone or has changed is refused with an error that
names --course.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from autograder.course.settings import Course, load_course
from autograder.gradebook.store import Gradebook, GradebookError


def fingerprint(course: Course, assignment: str) -> str:
    """A short hash of the course settings that change an assignment's pages (the secret
    enters as its own hash, so the gradebook never holds it)."""
    settings = course.settings(assignment)

    def when(value: object) -> str | None:
        return value.isoformat() if value is not None else None  # type: ignore[attr-defined]

    secret = course.secret
    data = {
        "secret": hashlib.sha256(secret.encode()).hexdigest() if secret else None,
        "due": when(settings.due),
        "cutoff": when(settings.cutoff),
        "late_policy": settings.late_policy,
        "late_percent_per_day": settings.late_percent_per_day,
        "extensions": {k: when(v) for k, v in sorted(settings.extensions.items())},
        "points": dict(sorted(settings.points.items())),
        "true_false_feedback": settings.true_false_feedback,
    }
    text = json.dumps(data, sort_keys=True)
    return hashlib.sha256(b"effdl-course-settings\0" + text.encode()).hexdigest()[:16]


def course_for(book: Gradebook, assignment: str, course_path: str | None) -> Course:
    """The course to render `assignment`'s pages with: `course_path` (or $EFFDL_COURSE) when
    given; else the course file the gradebook recorded, if it is still there unchanged;
    else, when the gradebook recorded none (or nothing), the canonical course. A recorded file
    that is gone or changed raises GradebookError naming --course."""
    if course_path is not None or os.environ.get("EFFDL_COURSE"):
        return load_course(course_path)
    recorded = book.course_file(assignment)
    if recorded is None or recorded[0] is None:
        return load_course(None)
    path, expected = recorded
    advice = (
        f"give --course {path} (or set EFFDL_COURSE) to use it as it is now, or --course "
        "with the file you mean: without one the students' pages would lose the late policy "
        "and their own variants"
    )
    if not Path(path).is_file():
        raise GradebookError(
            f"{book.path} was graded with the course file {path}, which is no longer there; "
            + advice.replace(" as it is now", "")
        )
    course = load_course(path)
    if fingerprint(course, assignment) != expected:
        raise GradebookError(
            f"{book.path} was graded with the course file {path}, which has changed since "
            f"(its secret, dates, late policy, extensions or points for {assignment}); " + advice
        )
    print(f"note: using the course file recorded in {book.path}: {path}", file=sys.stderr)
    return course


def remember(book: Gradebook, assignment: str, course: Course) -> None:
    """Record `course` as the one the assignment's pages are now rendered with."""
    path = str(Path(course.path).resolve()) if course.path is not None else None
    if book.course_file(assignment) != (path, fingerprint(course, assignment)):
        book.set_course_file(assignment, path, fingerprint(course, assignment))


def given_or_recorded(book: Gradebook, assignment: str, given: Course | None) -> Course:
    """`given` when it was read from a course file (--course or $EFFDL_COURSE), else what
    course_for finds for a command given none."""
    if given is not None and given.path is not None:
        return given
    return course_for(book, assignment, None)
