"""Partial credit over the parts of a check: each part that fails costs its share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from autograder.checking.explain import gave_no_output
from autograder.checking.verdict import CheckFailure, Partial

T = TypeVar("T")


def credit_parts(
    parts: Iterable[T],
    check_part: Callable[[T], object],
    weights: Sequence[float] | None = None,
    separator: str = "\n\n",
    vacuous: Callable[[T], bool] | None = None,
) -> None:
    """Run check_part on every part; pass when none fails, else Partial with the share of
    the parts that passed (equal shares unless `weights`, which should sum to 1) and every
    failing part's message, each once (five cases of an unimplemented function say so once). A part fails by raising CheckFailure (or Partial, which costs
    that part's share scaled by what it missed).

    `vacuous(part)` marks parts whose right answer doing nothing gives too (a zero input
    whose quantization is zero, an argument handed back): they earn their share only when
    some other part passes as well, so a function that does nothing earns nothing."""
    parts = list(parts)
    shares = list(weights) if weights is not None else [1 / len(parts)] * len(parts)
    if len(shares) != len(parts):
        raise ValueError(f"{len(parts)} parts but {len(shares)} weights")
    earned, problems, real, hollow = 0.0, [], False, 0.0
    for part, share in zip(parts, shares, strict=True):
        try:
            check_part(part)
        except Partial as partial:
            earned += share * partial.fraction
            problems.append(str(partial))
            real = real or (vacuous is not None and not vacuous(part) and partial.fraction > 0)
        except CheckFailure as failure:
            problems.append(str(failure) or "check failed")
        else:
            earned += share
            if vacuous is not None and vacuous(part):
                hollow += share
            else:
                real = True
    if hollow and not real:
        earned -= hollow
        problems.append(
            "The cases it got right (such as an input of zeros) are ones whose answer doing "
            "nothing gives too: they count only beside a case that needs the real work."
        )
    if problems:
        raise Partial(earned, separator.join(distinct(problems)))


def distinct(problems: list[str]) -> list[str]:
    """The messages without repeats; a call that gave no output (not implemented, missing,
    crashed) is told once however many cases named it."""
    out: dict[str, int] = {}
    for message in problems:
        key = message
        if gave_no_output(message) and "`" in message:
            start = message.find("calling `") if "calling `" in message else message.find("`")
            key = message[start:]
        out[key] = out.get(key, 0) + 1
    return [m if n == 1 else f"{m} (in all {n} cases)" for m, n in out.items()]
