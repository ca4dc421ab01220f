"""The reference solution gets full marks on every student's variant, graded as that student
(the course secret makes the variant, the student id picks it), and a notebook holding
another student's numbers is flagged even without its metadata.

The default run grades 10 variants of distributed-sparse, among them s-00000 and s-00039,
whose first draws once cost the reference 3 points; EFFDL_SLOW_TESTS=1 grades 1,000."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from autograder import plugin
from autograder.authoring.render import render_bundle, write_bundle
from autograder.course.settings import Course
from autograder.grading.grade import grade_submission
from autograder.grading.score import score_of

ASSIGNMENT = "distributed-sparse"
SECRET = "golden-secret-do-not-use"  # the secret of tests/data/golden_variants.json
SLOW = os.environ.get("EFFDL_SLOW_TESTS") == "1"
STUDENTS = (
    [f"s-{k:05d}" for k in range(1000)]
    if SLOW
    else ["s-00000", "s-00039", *(f"s-{k:05d}" for k in (1, 2, 3, 7, 12, 20, 28, 33))]
)


def _solution_for(student: str, folder: Path, course: Course) -> Path:
    variant = plugin.get(ASSIGNMENT).variant(course.secret, student)
    write_bundle(render_bundle(ASSIGNMENT, variant, solution=True), folder)
    return folder


@pytest.mark.parametrize("student", STUDENTS)
def test_the_solution_gets_full_marks_on_every_variant(student: str, tmp_path: Path) -> None:
    course = Course(secret=SECRET)
    folder = _solution_for(student, tmp_path / student, course)
    result = grade_submission(folder, ASSIGNMENT, course, student_id=student)
    lost = {c.id: c.message[:300] for c in result.checks if c.lost}
    assert result.graded and not lost, f"{student} (variant {result.variant}) lost {lost}"
    score = score_of(result)
    assert score.raw == pytest.approx(score.max_points + score.extra_max)
    assert result.variant == plugin.get(ASSIGNMENT).variant(SECRET, student)["variant"]
    assert not result.variant_mismatch, result.notes


@pytest.mark.parametrize("assignment", plugin.names())
def test_another_students_numbers_are_flagged_without_metadata(
    assignment: str, tmp_path: Path
) -> None:
    """bob hands in carol's solution with its metadata.effdl removed: the literals of bob's
    own variant are not in its cells, so it is flagged and the missing ones are named; his
    own notebook without metadata is not flagged."""
    course = Course(secret=SECRET)
    manifest = plugin.get(assignment)
    for who in ("carol", "bob"):
        folder = tmp_path / who
        write_bundle(render_bundle(assignment, manifest.variant(SECRET, who), True), folder)
        notebook = folder / manifest.notebook
        nb = json.loads(notebook.read_text(encoding="utf-8"))
        del nb["metadata"]["effdl"]
        notebook.write_text(json.dumps(nb), encoding="utf-8")
    copied = grade_submission(tmp_path / "carol", assignment, course, student_id="bob")
    own = grade_submission(tmp_path / "bob", assignment, course, student_id="bob")
    assert copied.variant_claimed is None and copied.variant_mismatch
    bobs = manifest.variant_literals(manifest.variant(SECRET, "bob"))
    carols = manifest.variant_literals(manifest.variant(SECRET, "carol"))
    assert copied.variant_missing == [t for t in bobs if t not in carols] != []
    assert copied.notes[0].startswith("VARIANT MISMATCH")
    assert copied.lost == set()  # the flag is for the staff: the code itself is correct
    assert own.graded and not own.variant_mismatch and own.variant_missing == []


def test_a_mismatch_graded_without_the_course_secret_says_so(tmp_path: Path) -> None:
    """ann's notebook was made with the course secret; graded without it (--course forgotten)
    she is given the canonical variant, and the flag names the missing secret and how to give
    it; graded with the secret as someone else, the flag does not blame the secret."""
    folder = _solution_for("ann", tmp_path / "ann", Course(secret=SECRET))
    forgot = grade_submission(folder, ASSIGNMENT, Course(), student_id="ann")
    assert forgot.variant_mismatch and forgot.variant == "canonical"
    assert forgot.notes[0].startswith("VARIANT MISMATCH")
    assert "No course secret was given" in forgot.notes[0] and "--course" in forgot.notes[0]
    other = grade_submission(folder, ASSIGNMENT, Course(secret=SECRET), student_id="bob")
    assert other.variant_mismatch and "course secret" not in other.notes[0]
