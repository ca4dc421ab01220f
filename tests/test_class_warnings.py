"""Class-level warnings: a forgotten course file, many ungradable uploads, a check most of the
class fails; and none for an ordinary class."""

from __future__ import annotations

from autograder.grading.result import NOT_GRADED, CheckResult, GradeResult
from autograder.publishing.class_warnings import class_warnings


def _result(sid: str, lost: bool = False, mismatch: bool = False, graded: bool = True):
    check = CheckResult(
        "a2.x",
        "A2",
        "a check",
        "f",
        False,
        2.0,
        "failed" if lost else "passed",
        0.0 if lost else 1.0,
        "",
    )
    other = CheckResult("a3.y", "A3", "another", "g", False, 1.0, "passed", 1.0, "")
    return GradeResult(
        sid,
        "distributed-sparse",
        status="graded" if graded else NOT_GRADED,
        checks=[check, other],
        variant="v-" + sid,
        variant_claimed="canonical" if mismatch else None,
        sandboxed=True,
    )


def test_an_ordinary_class_gets_no_warning() -> None:
    results = [_result(f"s{i}", lost=i < 2) for i in range(10)]
    assert class_warnings(results) == []


def test_a_forgotten_course_file_a_failing_check_and_ungradable_uploads_are_named() -> None:
    results = [_result(f"s{i}", lost=i < 8, mismatch=True) for i in range(10)]
    results += [_result(f"u{i}", graded=False) for i in range(4)]
    text = "\n".join(class_warnings(results))
    assert "10 of 10 graded notebooks carry another student's variant" in text
    assert "--course" in text
    assert "8 of 10 students lost points on a2.x" in text and "a3.y" not in text
    assert "4 of 14 submissions could not be graded" in text


def test_a_small_class_is_not_judged_by_shares() -> None:
    assert class_warnings([_result("a", lost=True, mismatch=True)]) == []
