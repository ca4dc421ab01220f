"""The grader's promise on real bundles: solutions full marks, blanks zero, each flawed sample
loses the points of its mistake (and of functions that call it) and nowhere else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import plugin
from autograder.authoring import samples
from autograder.commands.demo import DemoCase, verdict
from autograder.course.settings import Course
from autograder.grading.grade import grade_submission
from autograder.grading.score import score_of
from autograder.publishing.feedback import render_feedback
from autograder.publishing.results_json import results_dict

ROOT = Path(__file__).resolve().parents[1]
NAMES = plugin.names()
ALL_SAMPLES = [s for name in NAMES for s in samples.samples(name)]


def _grade(path: Path, name: str, student: str = "tester"):
    return grade_submission(path, name, Course(), student_id=student)


@pytest.fixture(scope="module", params=NAMES)
def solution_result(request):
    return request.param, _grade(ROOT / "solutions" / request.param, request.param)


def test_solution_gets_full_marks(solution_result) -> None:
    name, result = solution_result
    failing = {o.id: o.message for o in result.checks if o.status != "passed"}
    assert not failing, f"{name} solution lost points: {failing}"
    extra = sum(o.max_points for o in result.checks if o.extra_credit)
    assert score_of(result).raw == pytest.approx(score_of(result).max_points + extra)
    assert result.sandboxed or "UNSANDBOXED" in " ".join(result.staff_notes)


def test_results_json_has_gradescope_shape(solution_result) -> None:
    name, result = solution_result
    data = json.loads(json.dumps(results_dict(result, score_of(result))))
    assert data["score"] == score_of(result).raw
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(data["tests"][0])
    assert all(t["status"] == "passed" for t in data["tests"])
    html = render_feedback(result, score_of(result))
    assert "<svg" in html and result.student_id in html


@pytest.mark.parametrize("name", NAMES)
def test_blank_student_bundle_scores_zero(name: str) -> None:
    result = _grade(ROOT / "assignments" / name, name)
    assert score_of(result).raw == 0
    assert not [o for o in result.checks if o.status == "error"], "the grader crashed on a blank"
    messages = " ".join(o.message for o in result.checks)
    assert "not implemented" in messages


@pytest.mark.parametrize("sample", ALL_SAMPLES, ids=lambda s: f"{s.assignment}/{s.name}")
def test_flawed_sample_loses_exactly_its_checks(sample, tmp_path: Path) -> None:
    path = samples.materialize(sample, ROOT / "solutions" / sample.assignment, tmp_path / "sub")
    result = _grade(path, sample.assignment)
    case = DemoCase("tester", sample.assignment, path, "flawed", sample.expect_lost)
    ok, how = verdict(case, result, score_of(result))
    assert ok, f"{sample.name}: {how}"
    for outcome in result.checks:
        if outcome.status != "passed":
            assert outcome.message, f"{outcome.id} failed without a message"
    feedback = "\n".join(o.message for o in result.checks if o.lost)
    for text in sample.message_contains:
        assert text in feedback, f"{sample.name}: the feedback does not say {text!r}"


def test_flawed_samples_name_their_mistakes(tmp_path: Path) -> None:
    """Feedback points at the mistake, in the words of HOMEWORK's list."""
    expected = {
        "closed_form_y_times_inverse": "y X^-1",
        "server_step_sums": "summed",
        "terngrad_inverted_bernoulli": "inverted",
        "trimmed_thresholds_all": "every entry was thresholded",
        "history_of_references": "references",
        "csc_without_placeholders": "placeholder",
        "ste_inverted_zero_mask": "inverted",
        "ste_backward_one_value": "one value per forward input",
        "finetune_mask_not_reapplied": "re-applied",
        "global_prune_per_layer": "global threshold",
    }
    for sample in ALL_SAMPLES:
        if sample.name not in expected:
            continue
        path = samples.materialize(
            sample, ROOT / "solutions" / sample.assignment, tmp_path / sample.name
        )
        result = _grade(path, sample.assignment)
        text = "\n".join(o.message for o in result.checks if o.status != "passed")
        assert expected[sample.name] in text, f"{sample.name}: feedback was\n{text}"


def test_cli_grade_writes_results_and_exits_zero(tmp_path: Path) -> None:
    blank = ROOT / "assignments" / "distributed-sparse"
    out = tmp_path / "graded"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.cli",
            "grade",
            str(blank),
            "--assignment",
            "distributed-sparse",
            "--student",
            "zed",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "zed" in proc.stdout and "0.00" in proc.stdout
    data = json.loads((out / "zed" / "results.json").read_text())
    assert data["score"] == 0 and data["tests"]
    assert (out / "zed" / "feedback.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    "args, message",
    [
        (["grade", "/no/such/file.ipynb", "--assignment", "distributed-sparse"], "no such file"),
        (["grade", ".", "--assignment", "nope"], "unknown assignment"),
        (["build", "nope"], "unknown assignment"),
        (["key", "nope"], "unknown assignment"),
        (["lab", "distributed-sparse", "--data", "digits"], "invalid choice"),
    ],
)
def test_cli_errors_are_clear(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
