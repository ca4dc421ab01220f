"""Run a check's calls in this process, on trusted code (effdl's functions or a catalogue
entry's definitions), the way the harness would: globals seeded per call, repeats sharing
one generator, fixtures for the special modes, and every value through the codec.

Only the tests use it: they compute a wrong rule and the reference on the hidden inputs a
check draws, and run the check itself on what came back, without a sandbox per case.
"""

from __future__ import annotations

import copy
import functools
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
from autograder.sandbox.install import fixture_modules

ROOT = Path(__file__).resolve().parents[1]
_FIXTURES_READY: set[str] = set()


_REFERENCES: list[dict[str, Any]] = []  # the reference namespaces handed out (kept alive)
_ANSWERS: dict[tuple[str, int, str], CallResult] = {}  # the reference's answer to each call


def reference_namespace(assignment: str) -> dict[str, Any]:
    """The graded names as the solution defines them (effdl's own functions). check_fraction
    answers each call of a seed on it once, and reuses the answer (a process-group call
    takes seconds, and the coverage rows ask for the same ones many times)."""
    names = _reference_names(assignment)
    _REFERENCES.append(names)
    return names


def _reference_names(assignment: str) -> dict[str, Any]:
    from effdl.truefalse import tf_answers

    names: dict[str, Any] = {"np": np, "torch": torch}
    if assignment == "compress-distributed":
        names.update(_compress_distributed_names())
    else:
        from effdl import csc, distributed, pruning, quant, sparse_opt

        for module in (distributed, sparse_opt, csc, pruning):
            names.update({k: v for k, v in vars(module).items() if not k.startswith("_")})
        names["STE"] = quant.STE
    names["TF_ANSWERS"] = dict(tf_answers(assignment))
    return names


def _compress_distributed_names() -> dict[str, Any]:
    """Assignment C's names: the notebook's (effdl's compressors, quantized sensing and
    Hogwild update) and comm_hooks.py's (effdl's DDP hooks). The hooks' module-level
    helpers (_group, _param_keys) and imports (dist, default_hooks) come along, since a
    catalogue entry of comm_hooks.py calls them as the submitted file would."""
    from effdl import compression, ddp_hooks, hogwild, qcs

    names: dict[str, Any] = {}
    for module in (compression, qcs, hogwild):
        names.update({k: v for k, v in vars(module).items() if not k.startswith("_")})
    names.update({k: v for k, v in vars(ddp_hooks).items() if not k.startswith("__")})
    return names


def catalogue_namespace(assignment: str, path: Path) -> dict[str, Any]:
    """The reference namespace with a catalogue entry's definitions executed over it (its
    helper calls to other graded functions find the reference ones). Compiled without this
    module's `from __future__ import annotations`, as the harness runs a submission: a DDP
    hook's annotations must stay types (DDP rejects string ones)."""
    names = _reference_names(assignment)
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
    exec(code, names)  # noqa: S102
    return names


def _ready(assignment: str) -> None:
    """Import what the harness preimports (assignment C's ranks, forked from this process,
    then find torch's compiler loaded, as in the sandbox) and register the assignment's
    fixture modules (every module of its sandbox/, as the harness does), once."""
    import importlib

    manifest = plugin.get(assignment)
    if assignment in _FIXTURES_READY:
        return
    for name in manifest.preimport:
        importlib.import_module(name)
    if manifest.fixtures_dir is None:
        _FIXTURES_READY.add(assignment)
        return
    modules = [
        importlib.import_module(f"{manifest.package}.sandbox.{name}")
        for name in fixture_modules(manifest.fixtures_dir)
    ]
    harness_calls.register_fixtures(modules, [])
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
        "pure": call.pure,
    }
    try:
        value = harness_calls.run_call(spec, names)
    except Exception as exc:  # noqa: BLE001 - reported as the harness would
        return CallResult("error", error=f"{type(exc).__name__}: {exc}")
    return CallResult("ok", codec.decode(codec.encode(value)))


@functools.cache
def _variant(assignment: str) -> dict[str, Any]:
    """The notebook's own numbers (no student id); drawing them takes assignment C ~1 s."""
    return plugin.get(assignment).variant(None, None)


@functools.cache
def plan(assignment: str, seed: int) -> tuple[list[Call], dict[str, list[str]]]:
    """The calls of one submission seed, and each check's call ids (kept: nothing here
    changes them, and the tests ask for the same seeds many times)."""
    return suite.load(assignment).plan(_variant(assignment), seed)


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
    reference = any(names is r for r in _REFERENCES)
    results = []
    for call in calls:
        if call.id not in mine:
            results.append(CallResult("not_run", error="not this check's"))
            continue
        use_wrong = wrong is not None and (wrong_calls is None or call.id in wrong_calls)
        if use_wrong or not reference:
            results.append(run_call(call, wrong if use_wrong else names))
            continue
        key = (assignment, seed, call.id)
        if key not in _ANSWERS:
            _ANSWERS[key] = run_call(call, names)
        results.append(copy.deepcopy(_ANSWERS[key]))
    sub = Sub(calls, HarnessOutput(calls=results), _variant(assignment), {})
    spec = next(s for s in suite.load(assignment).specs if s.id == check_id)
    sub.own = own[check_id]
    result, fault = suite.run_check(spec, sub, 1.0)
    assert not fault, fault
    return result.fraction, result.message
