"""Scoring a TF_ANSWERS dict against a true/false key (shared by both assignments' checks).

What the feedback reveals is the course's choice (course.toml, `true_false_feedback`): by
default only how many items are right, since naming each wrong item lets a few submissions
read the whole key off the feedback; "items" also names them. Answers that cannot be read
(a missing item, a value that is not True or False) are always named: that says nothing
about the key.
"""

from __future__ import annotations

from autograder.checking.returns import Unreadable
from autograder.checking.verdict import CheckFailure, Partial

TRUE_WORDS = {"t", "true", "yes"}
FALSE_WORDS = {"f", "false", "no"}
REVEAL = ("count", "items")


def as_bool(value: object) -> bool | None:
    """A true/false answer as a bool, also from 'T'/'F' strings and 0/1; else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def score_true_false(answers: object, key: dict[str, bool], reveal: str = "count") -> None:
    """Pass when every item matches the key; else Partial(fraction right) with the count of
    right answers, every unreadable answer, and (reveal="items") each wrong item."""
    if reveal not in REVEAL:
        raise ValueError(f"reveal must be one of {REVEAL}, got {reveal!r}")
    if not isinstance(answers, dict):
        raise CheckFailure("TF_ANSWERS should be a dict from '1.1'..'1.10' to True/False.")
    right, unreadable, wrong = 0, [], []
    for item, truth in key.items():
        if item not in answers:
            unreadable.append(f"{item}: no answer (the key '{item}' is missing).")
            continue
        answer = answers[item]
        given = as_bool(answer)
        if given is None:
            shown = answer.kind if isinstance(answer, Unreadable) else repr(answer)[:60]
            unreadable.append(f"{item}: {shown} is not True or False.")
        elif given == truth:
            right += 1
        else:
            wrong.append(f"{item}: answered {given}, which is not the key's answer.")
    if right == len(key):
        return
    lines = [f"{right} of {len(key)} correct."] + unreadable
    if reveal == "items":
        lines += wrong
    raise Partial(right / len(key), "\n".join(lines))
