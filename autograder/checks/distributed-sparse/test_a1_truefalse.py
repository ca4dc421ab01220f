"""Hidden check for A1: the true/false choices (the justifications are graded by hand)."""

from __future__ import annotations

import numpy as np

from autograder.checking import Call, Sub, check
from autograder.compare import CheckFailure, Partial, describe
from effdl.answer_key import TRUE_FALSE as TF_KEY

TRUE_WORDS = {"t", "true", "yes"}
FALSE_WORDS = {"f", "false", "no"}


def calls(variant: dict) -> list[Call]:
    return [Call("a1.tf", "TF_ANSWERS", mode="value")]


def as_bool(value: object) -> bool | None:
    """A true/false answer as a bool, also from 'T'/'F' strings and numpy bools; else None."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


@check(
    "a1.true_false",
    points=10,
    problem="A1",
    title="true/false choices (1 point each)",
    function="TF_ANSWERS",
)
def test_true_false(sub: Sub) -> None:
    answers = sub.value("a1.tf")
    if not isinstance(answers, dict):
        raise CheckFailure(
            f"TF_ANSWERS should be a dict from '1.1'..'1.10' to True/False, got "
            f"{describe(answers)}."
        )
    answers = {str(k).strip(): v for k, v in answers.items()}
    right, problems = 0, []
    for item, truth in TF_KEY.items():
        if item not in answers:
            problems.append(f"{item}: no answer (the key '{item}' is missing).")
            continue
        given = as_bool(answers[item])
        if given is None:
            problems.append(f"{item}: {answers[item]!r} is not True or False.")
        elif given == truth:
            right += 1
        else:
            problems.append(f"{item}: answered {given}, which is not the key's answer.")
    if problems:
        raise Partial(
            right / len(TF_KEY), f"{right} of {len(TF_KEY)} correct.\n" + "\n".join(problems)
        )
