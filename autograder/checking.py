"""What a hidden check file is made of: the calls it asks the harness to make, and checks.

A check file (autograder/checks/<assignment>/test_*.py) is a pytest file:

    def calls(variant: dict) -> list[Call]:          # inputs chosen by the grader
        return [Call("w_star", "closed_form", args=(X, y))]

    @check("a2.closed_form", points=4, problem="A2.1", title="closed_form gives W*")
    def test_closed_form(sub: Sub) -> None:
        got = sub.value("w_star")                    # the student's returned data
        assert_close(got, effdl.distributed.closed_form(X, y), rtol=1e-6, atol=1e-9, what="W*")

A check passes by returning, fails by raising CheckFailure (or AssertionError), and gives
partial credit by raising Partial(fraction, message). Points live next to the check; a
course.toml may override them by check id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.compare import CheckFailure, describe
from autograder.outputs import CallResult, HarnessOutput, Unsupported


@dataclass(frozen=True)
class Rng:
    """An argument the harness turns into np.random.default_rng(seed)."""

    seed: int


@dataclass(frozen=True)
class Call:
    """One call the harness makes: `func` from the submission on these inputs.

    mode "call" calls func(*args, **kwargs) (`repeat` times, sharing one Rng, returning the
    list); the torch modes ("ste", "prune_layer", "global_prune", "finetune") build the
    inputs described by kwargs in the harness (see harness.run_call).
    """

    id: str
    func: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    mode: str = "call"
    repeat: int = 1
    timeout: float = 10.0


@dataclass(frozen=True)
class CheckSpec:
    """A check's declaration: its id, points, the problem it belongs to and what it tests."""

    id: str
    title: str
    problem: str
    points: float
    function: str
    extra_credit: bool
    run: Callable[[Sub], Any]


def check(
    id: str,
    *,
    points: float,
    problem: str,
    title: str,
    function: str,
    extra_credit: bool = False,
) -> Callable[[Callable[[Sub], Any]], Callable[[Sub], Any]]:
    """Declare a check; `function` names the graded function it is about (for feedback)."""

    def mark(fn: Callable[[Sub], Any]) -> Callable[[Sub], Any]:
        fn.effdl_check = CheckSpec(id, title, problem, points, function, extra_credit, fn)  # type: ignore[attr-defined]
        return fn

    return mark


class Sub:
    """A graded submission as the checks see it: call results (data only) and its variant."""

    def __init__(
        self, calls: list[Call], output: HarnessOutput, variant: dict[str, Any], meta: dict
    ) -> None:
        self._by_id = {c.id: (c, r) for c, r in zip(calls, output.calls, strict=True)}
        self.output = output
        self.variant = variant
        self.meta = meta
        self.plots: list[dict[str, Any]] = []

    def add_plot(
        self,
        problem: str,
        title: str,
        series: dict[str, np.ndarray],
        reference: dict[str, np.ndarray],
        log_y: bool = False,
    ) -> None:
        """Attach a figure to the feedback: the student's curves beside the reference ones."""
        self.plots.append(
            {
                "problem": problem,
                "title": title,
                "series": series,
                "reference": reference,
                "log_y": log_y,
            }
        )

    def result(self, call_id: str) -> CallResult:
        return self._by_id[call_id][1]

    def value(self, call_id: str) -> Any:
        """The value a call returned, or a CheckFailure that says why there is none."""
        call, result = self._by_id[call_id]
        if result.status == "ok":
            return result.value
        raise CheckFailure(explain_result(call.func, result))

    def array(self, call_id: str, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        from autograder.compare import as_array

        return as_array(self.value(call_id), what, shape)

    def tuple_of(self, call_id: str, n: int, what: str) -> tuple[Any, ...]:
        """A returned tuple (or list) of exactly n items, e.g. (W_hist, losses)."""
        value = self.value(call_id)
        if not isinstance(value, tuple | list) or len(value) != n:
            raise CheckFailure(f"{what}: expected a tuple of {n} values, got {describe(value)}.")
        return tuple(value)


def explain_result(func: str, result: CallResult) -> str:
    """Why a call gave no value, in words for the student."""
    status, error = result.status, result.error
    if status == "missing":
        return (
            f"`{func}` is not defined in your submission: keep its name and signature, and "
            "keep its cell (tagged 'answer') in the notebook."
        )
    if status == "error" and error.startswith("NotImplementedError"):
        return f"`{func}` is not implemented yet (it raised NotImplementedError)."
    if status == "error":
        where = _last_frame(result.traceback)
        return (
            f"`{func}` raised {error}" + (f"\n  at {where}" if where else "") + _error_hint(error)
        )
    if status == "timeout":
        return f"`{func}` did not return within its time budget: an infinite loop, or far too slow."
    if status == "crashed":
        return f"calling `{func}` crashed: {error}."
    return f"`{func}` was not called: {error}."


# Errors whose cause is nearly always the same, and what to say about it.
ERROR_HINTS = (
    (
        ("AttributeError", "module 'numpy' has no attribute"),
        "code written for an old NumPy: np.float, np.int, np.bool, np.object, np.asscalar "
        "and friends were removed in NumPy 1.24; use float, int, bool, object, .item().",
    ),
    (
        ("inhomogeneous shape",),
        "rows of different shapes: usually a (d,) and a (d, 1) or (n, 1) array were "
        "broadcast together, turning a vector into a matrix.",
    ),
    (
        ("operands could not be broadcast",),
        "arrays of shapes that do not fit: check (d,) against (d, 1) vectors.",
    ),
)


def _error_hint(error: str) -> str:
    for needles, hint in ERROR_HINTS:
        if all(n in error for n in needles):
            return f"\n  Likely cause: {hint}"
    return ""


def _last_frame(tb: str) -> str:
    frames = [line.strip() for line in tb.splitlines() if line.strip().startswith("File ")]
    student = [f for f in frames if "/grader/harness.py" not in f and "harness.py" not in f]
    return student[-1] if student else ""


def unsupported(value: Any) -> bool:
    return isinstance(value, Unsupported)
