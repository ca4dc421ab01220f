"""What a hidden check is made of: the calls it asks the harness to make, and its verdict.

A check file (autograder/plugins/<name>/checks/test_*.py) states each check's inputs next
to its comparison:

    def closed_form_calls(v: dict, seed: int) -> list[Call]:   # inputs chosen by the grader
        X, y = draw_system(np.random.default_rng(seed))        # fresh for each submission
        return [Call("a2.closed_form.probe", "closed_form", (X, y), returns=Array((3,)))]

    @check("a2.closed_form", points=4, problem="A2.1", title="closed_form gives W*",
           function="closed_form", calls=closed_form_calls)
    def test_closed_form(sub: Sub) -> None:
        for case in sub.cases():                         # this check's calls, with inputs
            X, y = case.args
            assert_close(case.value, effdl.distributed.closed_form(X, y), rtol=1e-6,
                         atol=1e-9, what="W*")

A calls function gets the variant's numbers and a seed: the seed is drawn for each
submission (from the student id and the submission's content, so a regrade draws the same),
so hidden inputs made from it differ between submissions and no feedback on one of them
answers the next. Every call declares what it must return (`returns`, see returns.py);
the framework reads the value against it before any check sees it.

A check passes by returning, fails by raising CheckFailure and gives partial credit by
raising Partial (see verdict.py, credit.py). Points live next to the check; a course.toml
may override them by check id. Two checks that read the same calls pass the same function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autograder.checking.returns import Spec
from autograder.sandbox.harness.codec import Rng

__all__ = ["Call", "CallsFn", "CheckSpec", "Rng", "check"]


@dataclass(frozen=True)
class Call:
    """One call the harness makes: `func` from the submission on these inputs.

    mode "call" calls func(*args, **kwargs) (`repeat` times, sharing one Rng, returning the
    list); "value" reads a name (TF_ANSWERS); other modes are the assignment's sandbox
    fixtures, which build what the call needs from kwargs (a torch layer, a small net).
    `returns` is what one call must return (with repeat, each of the N values); `seed`, when
    given, seeds Python's, numpy's and torch's global generators before the call instead of
    the id (two calls with one seed and one Rng start from the same generator state).
    `pure`: the problem says the function does not change its inputs; one it changed in
    place makes the call fail, naming the argument.
    `private`: (name, axis) for a fixture that runs the function in several processes (the
    ranks of a process group): kwargs[name] is split along `axis` into one share per process
    and no process of the sandbox but rank r's ever holds share r (see harness/sealed.py).
    """

    id: str
    func: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    mode: str = "call"
    repeat: int = 1
    timeout: float = 10.0
    returns: Spec | None = None
    seed: int | None = None
    pure: bool = False
    private: tuple[str, int] | None = None


# (variant, seed) -> calls; a calls function of fixed inputs may take the variant only.
CallsFn = Callable[..., list[Call]]


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
