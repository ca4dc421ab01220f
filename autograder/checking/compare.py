"""Comparisons for hidden checks: one helper per kind of comparison, each failing with a
message that says what was expected, what came, by how much, where, and the likely cause.

The shared vocabulary: `rtol`/`atol` as in numpy.isclose (|got - expected| <= atol + rtol *
|expected|), the worst element reported by its index, shapes and dtypes always shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.checking.returns import Array, as_numbers
from autograder.checking.verdict import CheckFailure
from autograder.sandbox.harness.codec import Unsupported


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: what a student gets by making `cause`, computed on demand."""

    cause: str
    compute: Callable[[], Any]


def fmt(value: Any, limit: int = 10) -> str:
    """A short readable rendering of a number or array (at most `limit` entries)."""
    if isinstance(value, np.ndarray):
        flat = value.reshape(-1)
        with np.printoptions(precision=6, suppress=True, threshold=limit, edgeitems=3):
            if flat.size > limit:
                return np.array2string(value, separator=", ", threshold=limit, edgeitems=3)
            return np.array2string(value, separator=", ")
    if isinstance(value, float):
        return f"{value:.8g}"
    return repr(value)[:300]


def describe(value: Any) -> str:
    """Kind, dtype and shape of a returned value, for messages."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    if isinstance(value, Unsupported):
        return f"an object of type {value.type_name} (not numbers or an array)"
    if isinstance(value, list | tuple):
        return f"{type(value).__name__} of length {len(value)}"
    return type(value).__name__


def as_array(value: Any, what: str, shape: Sequence[int] | None = None) -> np.ndarray:
    """The student's value as a float64 array of `shape` (a (d, 1) column counts as (d,)).

    Values a call's `returns` spec already read pass unchanged; anything else is read the
    same way (returns.Array), failing with a message that names what came instead.
    """
    if shape is None:
        return as_numbers(value, what, "numbers")
    return Array(tuple(shape)).read(value, what)


def close_mask(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Elementwise |got - expected| <= atol + rtol*|expected|, NaN equal only to NaN."""
    with np.errstate(invalid="ignore"):
        ok = np.abs(got - expected) <= atol + rtol * np.abs(expected)
    return ok | (np.isnan(got) & np.isnan(expected)) | (got == expected)


def likely_cause(got: np.ndarray, mistakes: Sequence[Mistake], rtol: float, atol: float) -> str:
    """The causes of the known mistakes whose answer matches `got` (joined, when several
    predict the same output on these inputs), else ''."""
    causes = []
    for mistake in mistakes:
        try:
            with np.errstate(all="ignore"):
                wrong = np.asarray(mistake.compute(), dtype=np.float64)
        except Exception:  # a mistake that cannot even run on these inputs cannot match
            continue
        if not np.all(np.isfinite(wrong)):  # NaN would "match" any NaN: not informative
            continue
        if wrong.shape == got.shape and bool(np.all(close_mask(got, wrong, rtol, atol))):
            causes.append(mistake.cause)
    return either(causes)


def either(causes: Sequence[str]) -> str:
    """One cause, or several that predict the same output: "A Or, as likely: B"."""
    causes = list(dict.fromkeys(causes))
    return " Or, as likely: ".join(causes)


def mismatch_message(
    got: np.ndarray,
    expected: np.ndarray,
    rtol: float,
    atol: float,
    what: str,
    mistakes: Sequence[Mistake] = (),
    where: str = "",
) -> str:
    """The feedback for `got` not matching `expected` (same shape) within the tolerance."""
    ok = close_mask(got, expected, rtol, atol)
    with np.errstate(invalid="ignore"):
        err = np.where(ok, 0.0, np.abs(got - expected))
    err = np.where(np.isnan(err), np.inf, err)
    worst = np.unravel_index(int(np.argmax(err)), got.shape) if got.ndim else ()
    index = "[" + ", ".join(str(int(i)) for i in worst) + "]" if got.ndim else ""
    allowed = atol + rtol * float(np.abs(expected[worst])) if got.size else atol
    lines = [
        f"{what}{where}: {int((~ok).sum())} of {ok.size} entries differ beyond the tolerance "
        f"(|got - expected| <= {atol:g} + {rtol:g} * |expected|).",
        f"  expected: {fmt(expected)}",
        f"  got:      {fmt(got)}",
        f"  worst entry{' ' + index if index else ''}: expected {float(expected[worst]):.8g}, "
        f"got {float(got[worst]):.8g}, error {float(err[worst]):.3g} (allowed {allowed:.3g})",
    ]
    cause = likely_cause(got, mistakes, rtol, atol)
    if cause:
        lines.append(f"  Likely cause: {cause}")
    return "\n".join(lines)


def assert_close(
    got: Any,
    expected: Any,
    *,
    rtol: float,
    atol: float,
    what: str,
    mistakes: Sequence[Mistake] = (),
) -> np.ndarray:
    """Fail unless `got` has expected's shape and matches it within rtol/atol; returns got."""
    expected = np.asarray(expected, dtype=np.float64)
    got_array = as_array(got, what, expected.shape)
    if not bool(np.all(close_mask(got_array, expected, rtol, atol))):
        raise CheckFailure(mismatch_message(got_array, expected, rtol, atol, what, mistakes))
    return got_array


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(1e-8, |a| + |b|): the relative error of CS231n's gradient checks."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
