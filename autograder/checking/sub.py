"""A graded submission as a check sees it: what each call returned, as data, and its variant.

Nothing here runs student code: the values were written by the harness in the sandbox and
decoded as untrusted data. Each value is read once against its call's declared `returns`
spec when the Sub is made, so a check only ever sees values of the declared kind, shape and
size. A check reads its own calls as Cases (the inputs that were sent beside what came
back), or any call by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.checking.compare import as_array, describe
from autograder.checking.explain import explain_result
from autograder.checking.returns import read_returned
from autograder.checking.spec import Call
from autograder.checking.verdict import CheckFailure
from autograder.grading.outputs import CallResult, HarnessOutput
from autograder.grading.result import MAX_PLOTS, bounded_plot


@dataclass(frozen=True)
class Case:
    """One call of a check: its inputs (`call.args`, `call.kwargs`) and what came back, read
    against the call's `returns` spec (`checked`), or why it could not be (`problem`)."""

    call: Call
    result: CallResult
    checked: Any = None
    problem: str = ""

    @property
    def id(self) -> str:
        return self.call.id

    @property
    def args(self) -> tuple[Any, ...]:
        return self.call.args

    @property
    def kwargs(self) -> dict[str, Any]:
        return self.call.kwargs

    @property
    def value(self) -> Any:
        """The value the call returned, read against its spec, or a CheckFailure that says
        why there is none (the call failed, or returned something else than declared)."""
        if self.result.status != "ok":
            raise CheckFailure(explain_result(self.call.func, self.result))
        if self.problem:
            raise CheckFailure(self.problem)
        return self.checked


def read_case(call: Call, result: CallResult) -> tuple[Case, str]:
    """The Case of one call, its value read against the call's spec; and a staff note when
    reading it failed in a way no spec should (a bug of the spec, not of the submission)."""
    if result.status != "ok" or call.returns is None:
        problem = "" if call.returns is not None else f"{call.id} declares no return value"
        return Case(call, result, None, problem), problem
    where = f"`{call.func}`" + (" (each call)" if call.repeat > 1 else "")
    try:
        return Case(call, result, read_returned(call.returns, result.value, call.repeat, where)), ""
    except CheckFailure as failure:
        return Case(call, result, None, str(failure)), ""
    except Exception as exc:  # noqa: BLE001 - the spec's own bug: the student sees a plain line
        note = f"{call.id}: reading the returned value failed: {type(exc).__name__}: {exc}"
        return Case(call, result, None, f"{where}: the returned value could not be read."), note


class Sub:
    """The submission: call results by id, the variant, and the plots checks attach."""

    def __init__(
        self, calls: list[Call], output: HarnessOutput, variant: dict[str, Any], meta: dict
    ) -> None:
        self._cases: dict[str, Case] = {}
        self.faults: list[str] = []  # staff-only notes from reading the values
        for call, result in zip(calls, output.calls, strict=True):
            self._cases[call.id], note = read_case(call, result)
            if note:
                self.faults.append(note)
        self.output = output
        self.variant = variant
        self.meta = meta
        self.plots: list[dict[str, Any]] = []
        self.own: list[str] = []  # the ids of the running check's calls (set by the suite)

    def cases(self, prefix: str = "") -> list[Case]:
        """The running check's calls, in the order it declared them (those whose id starts
        with `prefix`)."""
        return [self._cases[i] for i in self.own if i.startswith(prefix)]

    def case(self, call_id: str) -> Case:
        """Any call of the submission by its id."""
        return self._cases[call_id]

    def result(self, call_id: str) -> CallResult:
        return self._cases[call_id].result

    def value(self, call_id: str) -> Any:
        """The value a call returned, or a CheckFailure that says why there is none."""
        return self._cases[call_id].value

    def array(self, call_id: str, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        return as_array(self.value(call_id), what, shape)

    def tuple_of(self, call_id: str, n: int, what: str) -> tuple[Any, ...]:
        """A returned tuple (or list) of exactly n items, e.g. (W_hist, losses)."""
        return tuple_of(self.value(call_id), n, what)

    def add_plot(
        self,
        problem: str,
        title: str,
        series: dict[str, np.ndarray],
        reference: dict[str, np.ndarray],
        log_y: bool = False,
        x_label: str = "step",
    ) -> None:
        """Attach a figure to the feedback: the student's curves beside the reference ones.
        Whatever a check passes, the figure is cut to the result's caps here (curves, points,
        number of figures) before anything is converted or stored."""
        if len(self.plots) < MAX_PLOTS:
            self.plots.append(bounded_plot(problem, title, series, reference, log_y, x_label))


def tuple_of(value: Any, n: int, what: str) -> tuple[Any, ...]:
    """`value` as a tuple of exactly n items (a list is accepted), else a CheckFailure."""
    if not isinstance(value, tuple | list) or len(value) != n:
        raise CheckFailure(f"{what}: expected a tuple of {n} values, got {describe(value)}.")
    return tuple(value)
