"""`effdl grade PATH...`: grade submissions one by one and write their results and feedback."""

from __future__ import annotations

import re
import sys
import traceback
from pathlib import Path

from autograder import assignments
from autograder.course import load_course
from autograder.feedback import write_feedback
from autograder.grade import GradeResult, grade_submission
from autograder.results import write_results
from autograder.sandbox import backend
from autograder.submission import SubmissionError, student_id_from_path


def summary_line(result: GradeResult) -> str:
    """One line per submission: id, score, failing problems, flags."""
    failing = sorted({o.spec.problem for o in result.outcomes if o.status != "passed"})
    flags = []
    if result.variant_mismatch:
        flags.append("VARIANT MISMATCH")
    if not result.sandboxed:
        flags.append("unsandboxed")
    if any(o.status == "error" for o in result.outcomes):
        flags.append("GRADER ERROR")
    line = f"{result.student_id:<20} {result.score:7.2f} / {result.max_score:g}"
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
    """Grade each path, writing OUT/<student>/results.json and feedback.html."""
    assignments.get(assignment)  # an unknown name is the user's error: raised, not per path
    course = load_course(course_path)
    kind, why = backend()
    if kind != "bwrap":
        print(f"WARNING: grading WITHOUT the sandbox: {why}", file=sys.stderr)
    failed = 0
    for path in paths:
        sid = student or student_id_from_path(path)
        try:
            result = grade_submission(path, assignment, course, student_id=sid)
            folder = out / folder_name(result.student_id)
            write_results(result, folder / "results.json")
            write_feedback(result, folder / "feedback.html")
        except SubmissionError as exc:
            print(f"{sid:<20} not graded: {exc}")
            continue
        except Exception as exc:  # a grader bug on one submission must not stop the batch
            failed += 1
            print(f"{sid:<20} not graded: GRADER ERROR {type(exc).__name__}: {exc}")
            traceback.print_exc(file=sys.stderr)
            continue
        print(summary_line(result))
    return 1 if failed else 0
