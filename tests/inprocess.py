"""Run a check's calls in this process, on trusted code (effdl's functions or a catalogue
entry's definitions), the way the harness would: globals seeded per call, repeats sharing
one generator, fixtures for the special modes, and every value through the codec.

Only the tests use it: they compute a wrong rule and the reference on the hidden inputs a
check draws, and run the check itself on what came back, without a sandbox per case.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autograder import plugin
from autograder.checking.spec import Call
from autograder.checking.sub import Sub
from autograder.grading import suite
from autograder.grading.job import call_seed
from autograder.grading.outputs import CallResult, HarnessOutput
from autograder.sandbox.harness import calls as harness_calls
from autograder.sandbox.harness import codec

ROOT = Path(__file__).resolve().parents[1]
_FIXTURES_READY: set[str] = set()


def reference_namespace(assignment: str) -> dict[str, Any]:
    """The graded names as the solution defines them (effdl's own functions)."""
    from effdl import csc, distributed, pruning, quant, sparse_opt
    from effdl.truefalse import tf_answers

    names: dict[str, Any] = {"np": np, "torch": torch}
    for module in (distributed, sparse_opt, csc, pruning):
        names.update({k: v for k, v in vars(module).items() if not k.startswith("_")})
    names["STE"] = quant.STE
    names["TF_ANSWERS"] = dict(tf_answers(assignment))
    return names


def catalogue_namespace(assignment: str, path: Path) -> dict[str, Any]:
    """The reference namespace with a catalogue entry's definitions executed over it (its
    helper calls to other graded functions find the reference ones)."""
    names = reference_namespace(assignment)
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), names)  # noqa: S102
    return names


def _ready(assignment: str) -> None:
    manifest = plugin.get(assignment)
    if assignment in _FIXTURES_READY or manifest.fixtures_dir is None:
        return
    import importlib

    module = importlib.import_module(f"{manifest.package}.sandbox.fixtures")
    harness_calls.register_fixtures([module], [])
    _FIXTURES_READY.add(assignment)


def run_call(call: Call, names: dict[str, Any]) -> CallResult:
    """One call as the harness runs it, its value encoded and decoded like the harness's."""
    seed = call_seed(call.id) if call.seed is None else call.seed
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    spec = {
        "func": call.func,
        "mode": call.mode,
        "args": [codec.encode(a, strict=True) for a in call.args],
        "kwargs": codec.encode(dict(call.kwargs), strict=True),
        "repeat": call.repeat,
    }
    try:
        value = harness_calls.run_call(spec, names)
    except Exception as exc:  # noqa: BLE001 - reported as the harness would
        return CallResult("error", error=f"{type(exc).__name__}: {exc}")
    return CallResult("ok", codec.decode(codec.encode(value)))


def plan(assignment: str, seed: int) -> tuple[list[Call], dict[str, list[str]]]:
    variant = plugin.get(assignment).variant(None, None)
    return suite.load(assignment).plan(variant, seed)


def check_fraction(
    assignment: str,
    check_id: str,
    seed: int,
    names: dict[str, Any],
    wrong: dict[str, Any] | None = None,
    wrong_calls: set[str] | None = None,
) -> tuple[float, str]:
    """The fraction a check gives when its calls run on `names`, except the calls in
    `wrong_calls` (all of them when None), which run on `wrong`; and its message."""
    _ready(assignment)
    calls, own = plan(assignment, seed)
    mine = set(own[check_id])
    results = []
    for call in calls:
        if call.id not in mine:
            results.append(CallResult("not_run", error="not this check's"))
            continue
        use_wrong = wrong is not None and (wrong_calls is None or call.id in wrong_calls)
        results.append(run_call(call, wrong if use_wrong else names))
    sub = Sub(calls, HarnessOutput(calls=results), plugin.get(assignment).variant(None, None), {})
    spec = next(s for s in suite.load(assignment).specs if s.id == check_id)
    sub.own = own[check_id]
    result, fault = suite.run_check(spec, sub, 1.0)
    assert not fault, fault
    return result.fraction, result.message
