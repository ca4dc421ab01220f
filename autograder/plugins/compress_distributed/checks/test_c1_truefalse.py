"""Hidden check for C1: the true/false choices (the justifications are graded by hand).

Conventions accepted: keys as strings ("1.1", " 1.10 ") or numbers (1.1); answers as bools
(numpy's too), "T"/"F", "true"/"false", "yes"/"no" in any case, or 0/1. The feedback says
how many are right and which answers could not be read; it names the wrong items only when
the course sets true_false_feedback = "items" (course.toml), since naming them would let a
few submissions read the key off the feedback.
"""

from __future__ import annotations

from autograder.checking.returns import Answers
from autograder.checking.spec import Call, check
from autograder.checking.sub import Sub
from autograder.checking.truefalse import score_true_false
from effdl.truefalse import tf_answers


def tf_calls(variant: dict) -> list[Call]:
    return [Call("c1.tf", "TF_ANSWERS", mode="value", returns=Answers())]


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
    reveal = sub.meta.get("true_false_feedback", "count")
    score_true_false(answers.value, tf_answers("compress-distributed"), reveal)
