"""Hidden check for B1: the true/false choices (the justifications are graded by hand)."""

from __future__ import annotations

from autograder.checking import Call, Sub, check
from autograder.truefalse import score_true_false
from effdl.truefalse import tf_answers


def calls(variant: dict) -> list[Call]:
    return [Call("b1.tf", "TF_ANSWERS", mode="value")]


@check(
    "b1.true_false",
    points=10,
    problem="B1",
    title="true/false choices (1 point each)",
    function="TF_ANSWERS",
)
def test_true_false(sub: Sub) -> None:
    score_true_false(sub.value("b1.tf"), tf_answers("prune-quantize"))
