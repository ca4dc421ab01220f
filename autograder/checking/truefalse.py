"""Scoring a TF_ANSWERS dict against a true/false key (shared by both assignments' checks)."""

from __future__ import annotations

import numpy as np

from autograder.checking.compare import describe
from autograder.checking.verdict import CheckFailure, Partial

TRUE_WORDS = {"t", "true", "yes"}
FALSE_WORDS = {"f", "false", "no"}


def as_bool(value: object) -> bool | None:
    """A true/false answer as a bool, also from 'T'/'F' strings and numpy bools; else None."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def score_true_false(answers: object, key: dict[str, bool]) -> None:
    """Pass when every item matches the key; else Partial(fraction right) naming each miss."""
    if not isinstance(answers, dict):
        raise CheckFailure(
            "TF_ANSWERS should be a dict from '1.1'..'1.10' to True/False, got "
            f"{describe(answers)}."
        )
    answers = {str(k).strip(): v for k, v in answers.items()}
    right, problems = 0, []
    for item, truth in key.items():
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
        raise Partial(right / len(key), f"{right} of {len(key)} correct.\n" + "\n".join(problems))
