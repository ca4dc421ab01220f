"""Partial credit over the parts of a check: each part that fails costs its share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from autograder.checking.verdict import CheckFailure, Partial

T = TypeVar("T")


def credit_parts(
    parts: Iterable[T],
    check_part: Callable[[T], object],
    weights: Sequence[float] | None = None,
    separator: str = "\n\n",
) -> None:
    """Run check_part on every part; pass when none fails, else Partial with the share of
    the parts that passed (equal shares unless `weights`, which should sum to 1) and every
    failing part's message. A part fails by raising CheckFailure (or Partial, which costs
    that part's share scaled by what it missed)."""
    parts = list(parts)
    shares = list(weights) if weights is not None else [1 / len(parts)] * len(parts)
    if len(shares) != len(parts):
        raise ValueError(f"{len(parts)} parts but {len(shares)} weights")
    earned, problems = 0.0, []
    for part, share in zip(parts, shares, strict=True):
        try:
            check_part(part)
        except Partial as partial:
            earned += share * partial.fraction
            problems.append(str(partial))
        except CheckFailure as failure:
            problems.append(str(failure) or "check failed")
        else:
            earned += share
    if problems:
        raise Partial(earned, separator.join(problems))
