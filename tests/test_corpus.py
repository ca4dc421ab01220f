"""The corpus: submissions written the way students write (tests/corpus/README.md), each with
the verdict a person gives it, function by function. The grader must agree with every one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder import plugin
from autograder.course.settings import Course
from autograder.grading import suite
from autograder.grading.grade import grade_submission

CORPUS = Path(__file__).resolve().parent / "corpus"
ENTRIES = sorted(
    (assignment.name, verdict)
    for assignment in CORPUS.iterdir()
    if assignment.is_dir()
    for verdict in assignment.glob("*.verdict.json")
)


def expected_losses(assignment: str, verdicts: dict[str, str]) -> set[str]:
    """The check ids that must lose points: a check id's own verdict, else its function's.
    Every check must be decided by one of them."""
    lose = set()
    for spec in suite.load(assignment).specs:
        verdict = verdicts.get(spec.id, verdicts.get(spec.function))
        assert verdict in ("pass", "lose"), f"no verdict for {spec.id} ({spec.function})"
        if verdict == "lose":
            lose.add(spec.id)
    return lose


def test_the_corpus_is_big_and_varied() -> None:
    assert len(ENTRIES) >= 12
    assert {name for name, _ in ENTRIES} == set(plugin.names())
    wrong = [v for _, v in ENTRIES if "lose" in json.loads(v.read_text())["verdicts"].values()]
    assert len(wrong) >= 2


@pytest.mark.parametrize(
    "assignment, verdict_file", ENTRIES, ids=[v.name.split(".")[0] for _, v in ENTRIES]
)
def test_the_grader_agrees_with_every_verdict(assignment: str, verdict_file: Path) -> None:
    data = json.loads(verdict_file.read_text(encoding="utf-8"))
    name = verdict_file.name.removesuffix(".verdict.json")
    folder = verdict_file.parent / name
    path = folder if folder.is_dir() else verdict_file.parent / f"{name}.ipynb"
    result = grade_submission(path, assignment, Course(), student_id=name)
    assert result.graded, result.error
    assert result.notebook == data.get("notebook", plugin.get(assignment).notebook)
    errors = [c.id for c in result.checks if c.status == "error"]
    assert not errors, f"grader faults in {errors}: {result.staff_notes}"
    lost = {c.id: c.message for c in result.checks if c.lost}
    expected = expected_losses(assignment, data["verdicts"])
    kept_wrongly = expected - set(lost)
    lost_wrongly = {k: v[:400] for k, v in lost.items() if k not in expected}
    assert not kept_wrongly and not lost_wrongly, (
        f"{name}: should lose but passed: {sorted(kept_wrongly)}; lost though correct: "
        f"{lost_wrongly}; notes: {result.notes[:8]}"
    )
    assert not result.variant_mismatch, result.notes
