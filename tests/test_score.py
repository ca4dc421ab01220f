"""The score model: one total for a submission, the same on every output that shows it."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from classkit import ASSIGNMENT, flawed, solution_folder

from autograder.commands import manual
from autograder.commands.batch import grade_class
from autograder.commands.exports import export_csv
from autograder.course.late import Lateness
from autograder.course.settings import load_course
from autograder.grading.questions import Question, questions
from autograder.grading.result import NOT_GRADED, CheckResult, GradeResult
from autograder.grading.score import ManualScore, score_of


def _check(cid: str, points: float, fraction: float, extra: bool = False) -> CheckResult:
    status = "passed" if fraction == 1 else ("partial" if fraction else "failed")
    return CheckResult(cid, "P1", cid, "f", extra, points, status, fraction, "", 0.0)


def test_score_parts_add_up() -> None:
    result = GradeResult(
        "ann",
        ASSIGNMENT,
        checks=[_check("a", 4, 1.0), _check("b", 2, 0.5), _check("x", 3, 1.0, extra=True)],
    )
    qs = [Question("Q1", "q1", 2.0, False), Question("Q2", "q2", 5.0, False)]
    qs.append(Question("Q3", "q3", 1.0, True))
    manual_scores = [ManualScore("ann", "Q1", 1.5, 2.0, "ok"), ManualScore("ann", "Q3", 1, 1, "")]
    late = Lateness(True, 90000.0, 2, 0.8, None, "2 day(s) late")
    score = score_of(result, manual_scores, qs, late)
    assert (score.points, score.max_points) == (5.0, 6.0)
    assert (score.extra, score.extra_max) == (4.0, 4.0)  # 3 from a check, 1 from Q3
    assert (score.manual, score.manual_max, score.manual_pending) == (1.5, 7.0, 5.0)
    assert score.raw == 10.5 and score.maximum == 13.0 and score.total == pytest.approx(8.4)
    assert not score.full_marks
    assert "8.4 / 13" in score.summary() and "x 0.8" in score.summary()
    assert score_of(result).total == 8.0  # no hand grading, on time
    assert (
        score_of(GradeResult("ann", ASSIGNMENT, checks=result.checks, status=NOT_GRADED)).raw == 0
    )
    assert score_of(result).full_marks is False
    perfect = GradeResult("ann", ASSIGNMENT, checks=[_check("a", 4, 1.0)])
    assert score_of(perfect).full_marks


def _feedback_total(path: Path) -> float:
    match = re.search(r'<p class="score">([0-9.]+) / ([0-9.]+) points</p>', path.read_text())
    assert match, "the feedback page shows no total"
    return float(match[1])


def test_results_json_feedback_and_csv_show_one_total(tmp_path: Path) -> None:
    """A late student with extra credit and a hand-graded score: results.json, the feedback
    page and the LMS CSV show the same total (and a student on time, too)."""
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    solution_folder(class_dir / "alice")
    flawed("closed_form_y_times_inverse", class_dir / "bob")
    course = tmp_path / "course.toml"
    course.write_text(
        f"[assignments.{ASSIGNMENT}]\n"
        "due = 2026-11-06T23:59:00Z\n"
        'late_policy = "percent_per_day"\n'
        "late_percent_per_day = 10\n"
    )
    times = tmp_path / "times.csv"
    times.write_text(
        "student_id,submitted_at\nalice,2026-11-06T20:00:00Z\nbob,2026-11-08T10:00:00Z\n"
    )
    out, gradebook = tmp_path / "graded", tmp_path / "gb.sqlite"
    summary = grade_class(
        class_dir, ASSIGNMENT, gradebook, out, course_path=str(course), times_csv=times,
        progress=False,
    )  # fmt: skip
    assert summary.graded == 2
    first = questions(ASSIGNMENT)[0]
    scores = tmp_path / "scores.csv"
    scores.write_text(
        f"student_id,question,max,points,comment\nbob,{first.key},,1,partly right\n"
        f"alice,{first.key},,{first.max_points:g},\n"
    )
    manual.import_manual(gradebook, ASSIGNMENT, scores, load_course(course))
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(export_csv(gradebook, ASSIGNMENT, course_path=str(course))))}  # fmt: skip
    for sid in ("alice", "bob"):
        results = json.loads((out / sid / "results.json").read_text())
        totals = {
            "results.json": results["score"],
            "feedback.html": _feedback_total(out / sid / "feedback.html"),
            "CSV": float(rows[sid]["total"]),
        }
        assert len(set(totals.values())) == 1, (sid, totals)
        effdl = results["extra_data"]["effdl"]["score"]
        assert float(rows[sid]["max_total"]) == effdl["maximum"]
    bob = json.loads((out / "bob" / "results.json").read_text())["extra_data"]["effdl"]["score"]
    assert bob["days_late"] == 2 and bob["multiplier"] == pytest.approx(0.8)
    assert bob["total"] == pytest.approx(0.8 * bob["raw"])
    assert bob["extra"] == 10 and bob["manual"] == 1
    assert "2 day(s) late" in (out / "bob" / "feedback.html").read_text()
