"""Hidden check for C1: the true/false choices (the justifications are graded by hand)."""

from __future__ import annotations

from autograder.checking.spec import Call, check
from autograder.checking.sub import Sub
from autograder.checking.truefalse import score_true_false
from effdl.truefalse import tf_answers


def tf_calls(variant: dict) -> list[Call]:
    return [Call("c1.tf", "TF_ANSWERS", mode="value")]


@check(
    "c1.true_false",
    points=10,
    problem="C1",
    title="true/false choices (1 point each)",
    function="TF_ANSWERS",
    calls=tf_calls,
)
def test_true_false(sub: Sub) -> None:
    (answers,) = sub.cases()
    score_true_false(answers.value, tf_answers("compress-distributed"))
