"""What a hidden check is made of: the calls it asks the harness to make, and its verdict.

A check file (autograder/plugins/<name>/checks/test_*.py) states each check's inputs next
to its comparison:

    def closed_form_calls(v: dict) -> list[Call]:        # inputs chosen by the grader
        return [Call("a2.closed_form.probe", "closed_form", (PROBE_X, PROBE_Y))]

    @check("a2.closed_form", points=4, problem="A2.1", title="closed_form gives W*",
           function="closed_form", calls=closed_form_calls)
    def test_closed_form(sub: Sub) -> None:
        for case in sub.cases():                         # this check's calls, with inputs
            X, y = case.args
            assert_close(case.value, effdl.distributed.closed_form(X, y), rtol=1e-6,
                         atol=1e-9, what="W*")

A check passes by returning, fails by raising CheckFailure and gives partial credit by
raising Partial (see verdict.py, credit.py). Points live next to the check; a course.toml
may override them by check id. Two checks that read the same calls pass the same function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autograder.sandbox.harness.codec import Rng

__all__ = ["Call", "CallsFn", "CheckSpec", "Rng", "check"]


@dataclass(frozen=True)
class Call:
    """One call the harness makes: `func` from the submission on these inputs.

    mode "call" calls func(*args, **kwargs) (`repeat` times, sharing one Rng, returning the
    list); "value" reads a name (TF_ANSWERS); other modes are the assignment's sandbox
    fixtures, which build what the call needs from kwargs (a torch layer, a small net).
    """

    id: str
    func: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    mode: str = "call"
    repeat: int = 1
    timeout: float = 10.0


CallsFn = Callable[[dict[str, Any]], list[Call]]


@dataclass(frozen=True)
class CheckSpec:
    """A check's declaration: its id, points, the problem it belongs to, what it tests and
    the calls (from the variant's numbers) whose results it reads."""

    id: str
    title: str
    problem: str
    points: float
    function: str
    extra_credit: bool
    run: Callable[[Any], Any]  # the check: Sub -> None, or raises
    calls: CallsFn | None = None


def check(
    id: str,
    *,
    points: float,
    problem: str,
    title: str,
    function: str,
    extra_credit: bool = False,
    calls: CallsFn | None = None,
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Declare a check; `function` names the graded function it is about (for feedback)."""

    def mark(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        spec = CheckSpec(id, title, problem, points, function, extra_credit, fn, calls)
        fn.effdl_check = spec  # type: ignore[attr-defined]
        return fn

    return mark
