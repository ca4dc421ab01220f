"""`effdl grade PATH...`: grade submissions one by one and write their results and feedback."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from autograder import plugin
from autograder.course.settings import load_course
from autograder.grading.grade import check_points, grade_submission
from autograder.grading.intake import student_id_from_path
from autograder.grading.result import GradeResult
from autograder.grading.score import Score
from autograder.publishing.student import publish
from autograder.sandbox import backend


def summary_line(result: GradeResult, score: Score) -> str:
    """One line per submission: id, score, failing problems, flags."""
    if not result.graded:
        return f"{result.student_id:<20} not graded: {result.error}"
    failing = sorted({c.problem for c in result.checks if c.lost})
    flags = []
    if result.variant_mismatch:
        flags.append("VARIANT MISMATCH")
    if not result.sandboxed:
        flags.append("unsandboxed")
    if any(c.status == "error" for c in result.checks):
        flags.append("GRADER ERROR")
    elif result.staff_notes:
        flags.append("staff notes")
    line = f"{result.student_id:<20} {score.total:7.2f} / {score.maximum:g}"
    line += f"  {result.timings.get('total', 0):5.1f}s"
    if failing:
        line += "  lost points in " + ", ".join(failing)
    if flags:
        line += "  [" + "; ".join(flags) + "]"
    return line


def folder_name(student_id: str) -> str:
    """A student id as one folder name inside OUT: a file called `..zip` or `a/b` must not
    make the grader write its results anywhere else."""
    name = re.sub(r"[^A-Za-z0-9@+._-]", "_", student_id).lstrip(".")[:64]
    return name or "_"


def grade_paths(
    paths: list[Path], assignment: str, course_path: str | None, student: str | None, out: Path
) -> int:
    """Grade each path, writing OUT/<student>/results.json and feedback.html, and print each
    result's staff notes (how it was isolated, tracebacks of checks). Exit status 1 when a
    submission could not be graded or a check failed in the grader itself."""
    plugin.get(assignment)  # an unknown name is the user's error: raised, not per path
    course = load_course(course_path)
    check_points(course, assignment)
    kind, why = backend()
    if kind != "bwrap":
        print(f"WARNING: grading WITHOUT the sandbox: {why}", file=sys.stderr)
    status = 0
    for path in paths:
        sid = student or student_id_from_path(path)
        result = grade_submission(path, assignment, course, student_id=sid)
        score = publish(result, out / folder_name(result.student_id))
        print(summary_line(result, score))
        for note in result.staff_notes:  # whoever runs the grader is staff
            print(f"staff note on {sid}:\n{note}", file=sys.stderr)
        if not result.graded or any(c.status == "error" for c in result.checks):
            status = 1
    return status
