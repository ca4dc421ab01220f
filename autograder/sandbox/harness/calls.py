"""One graded call: find the student's function, rebuild its inputs, call it, write the value.

A call is made twice, the second time with the same seed, fresh inputs and the notebook's
names put back, and the two encoded values are compared: a grade must not depend on
os.urandom, the clock or anything else that differs between two runs, so a call whose runs
differ is reported as not reproducible instead of a value. A call that took more than
RERUN_SHARE of its time budget is not made again (its record says so): the runner allows
each call call_deadline(timeout) seconds in all, enough for the second run. A call of
`repeat` draws is made again for its first RERUN_DRAWS draws.

A call marked "pure" must leave its inputs as it found them: an argument it changed in
place makes the call an error (EffdlChangedInputs) that names the argument.

Modes: "call" calls func(*args, **kwargs) (`repeat` times with fresh copies of the inputs
and one shared generator, returning the list); "value" returns a name's value
(TF_ANSWERS); any other mode is an assignment's fixture (see `register_fixtures`): a
function fixture(graded_object, spec) that builds what the call needs (a torch layer, a
small net) and returns plain data.
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import random
import sys
import traceback
from collections.abc import Callable
from types import ModuleType
from typing import Any

from . import codec
from .determinism import perf_counter
from .processes import end_children
from .protocol import send_record

MISSING_NAME = "EffdlNameMissing"
TOO_LARGE = "EffdlTooLarge"
NOT_REPRODUCIBLE = "EffdlNotReproducible"
CHANGED_INPUTS = "EffdlChangedInputs"
RERUN_SHARE = 0.25  # a call that took at most this share of its budget is made a second time
RERUN_DRAWS = 20  # draws of a `repeat` call made the second time
MODES: dict[str, Callable[[Any, Any], Any]] = {}
SUBMITTED: list[str] = []  # support modules beside the notebook that may define graded names


class EffdlNameMissing(LookupError):
    """A graded name the submission does not define."""


class EffdlChangedInputs(Exception):
    """A pure call changed an argument in place."""


def _same_input(before: Any, after: Any) -> bool:
    """Whether an input (as the grader made it: arrays, tensors, numbers, lists of them)
    is unchanged: same shape and dtype, and equal entries (NaN equal to NaN)."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and before.dtype == after.dtype
            and bool(np.array_equal(before, after, equal_nan=before.dtype.kind in "fc"))
        )
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(before, torch.Tensor):
        return isinstance(after, torch.Tensor) and _same_input(before.numpy(), after.numpy())
    if isinstance(before, list | tuple):
        return (
            type(before) is type(after)
            and len(before) == len(after)
            and all(_same_input(b, a) for b, a in zip(before, after))
        )
    return True  # numbers, strings, generators: nothing a function can change in place


def _arg_name(target: Any, index: int) -> str:
    """The name of target's positional parameter `index`, as `name` (else "argument i")."""
    try:
        params = list(inspect.signature(target).parameters)
        return f"`{params[index]}`"
    except (TypeError, ValueError, IndexError):
        return f"argument {index + 1}"


def _call_pure(target: Any, args: list, kwargs: dict) -> Any:
    """target(*args, **kwargs), then EffdlChangedInputs if it changed an input."""
    kept_args = [copy.deepcopy(a) for a in args]
    kept = {k: copy.deepcopy(v) for k, v in kwargs.items() if k != "rng"}
    value = target(*args, **kwargs)
    changed = [_arg_name(target, i) for i, a in enumerate(kept_args) if not _same_input(a, args[i])]
    changed += [f"`{k}`" for k, v in kept.items() if not _same_input(v, kwargs[k])]
    if changed:
        raise EffdlChangedInputs(f"it changed its input ({', '.join(changed)}) in place")
    return value


def register_fixtures(modules: list[ModuleType], submitted: list[str]) -> None:
    """Collect the call modes of an assignment's fixture modules (their MODES dicts) and
    the names of the submitted support modules."""
    for module in modules:
        MODES.update(getattr(module, "MODES", {}))
    SUBMITTED[:] = submitted


def find_name(namespace: dict[str, Any], name: str) -> Any:
    """A graded name from the notebook's namespace, else from a submitted support module."""
    if name in namespace:
        return namespace[name]
    for module_name in SUBMITTED:
        module = sys.modules.get(module_name)
        if module is None and os.path.isfile(module_name + ".py"):
            module = __import__(module_name)
        if module is not None and hasattr(module, name):
            return getattr(module, name)
    raise EffdlNameMissing(f"{name} is not defined")


def run_call(call: dict[str, Any], namespace: dict[str, Any]) -> Any:
    """Run one call spec and return its result (the value the check will see)."""
    mode = call.get("mode", "call")
    args = codec.decode(call.get("args", []), inputs=True)
    kwargs = codec.decode(call.get("kwargs", {"__dict__": []}), inputs=True)
    target = find_name(namespace, call["func"])
    if mode == "value":
        return target
    if mode == "call":
        repeat = int(call.get("repeat", 1))
        run = _call_pure if call.get("pure") else lambda f, a, k: f(*a, **k)
        if repeat == 1:
            return run(target, args, kwargs)
        out = []
        for _ in range(repeat):  # fresh copies of the inputs, one shared generator
            again = [copy.deepcopy(a) for a in args]
            fresh = {k: v if k == "rng" else copy.deepcopy(v) for k, v in kwargs.items()}
            out.append(run(target, again, fresh))
        return out
    if mode in MODES:
        return MODES[mode](target, kwargs)
    raise ValueError(f"unknown call mode {mode!r}")


def describe_exception(exc: BaseException) -> dict[str, str]:
    """An exception as data; its own __str__ may misbehave, so that is guarded too."""
    name = type(exc).__name__
    try:
        text = str(exc)[:2000]
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    except BaseException:  # a __str__ that raises: report the type only
        text, tb = "(its message could not be shown)", ""
    return {"error": f"{name}: {text}", "error_type": name, "traceback": tb[-4000:]}


def call_deadline(timeout: float) -> float:
    """Seconds one call may take in all: its budget, plus the share for its second run."""
    return timeout * (1 + RERUN_SHARE)


def seed_globals(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (the ones a notebook may use)."""
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def attempt(call: dict[str, Any], seed: int, namespace: dict[str, Any]) -> tuple[dict, float, Any]:
    """One run of a call with the global generators seeded: its record, its seconds and the
    value itself (None when it raised)."""
    seed_globals(seed)
    started = perf_counter()
    value = None
    try:
        value = run_call(call, namespace)
        record = {"status": "ok", "value": codec.encode(value)}
    except codec.TooLarge as exc:
        text = f"it returned a value too large to check ({exc}; graded results are small)"
        record = {"status": "error", "error": text, "error_type": TOO_LARGE, "traceback": ""}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt count as the call failing
        record = {"status": "error", **describe_exception(exc)}
    return record, perf_counter() - started, value


def _outcome(record: dict[str, Any]) -> tuple[str, str]:
    """What two runs must agree on: the encoded value, or the kind of error raised."""
    if record["status"] == "ok":
        return "ok", json.dumps(record["value"], allow_nan=False)
    return "error", str(record.get("error_type"))


def _same_again(call: dict[str, Any], seed: int, namespace: dict[str, Any], first: tuple) -> bool:
    """Whether a second run agrees with the first, (record, value). A call of `repeat`
    draws from one generator is made again for its first RERUN_DRAWS draws only: they are
    the same draws, from the same start, when the function uses what it is given."""
    record, value = first
    repeat = int(call.get("repeat", 1))
    if call.get("mode", "call") == "call" and repeat > RERUN_DRAWS:
        call = {**call, "repeat": RERUN_DRAWS}
        if record["status"] == "ok":
            record = {"status": "ok", "value": codec.encode(value[:RERUN_DRAWS])}
    again, _, _ = attempt(call, seed, namespace)
    return _outcome(again) == _outcome(record)


def run_one(
    call: dict[str, Any],
    index: int,
    namespace: dict[str, Any],
    record_fd: int,
    reset: Callable[[], None] | None = None,
) -> None:
    """Run one call (twice, see the module docstring; `reset` puts back what the first run
    may have changed) and send its record to the supervisor, which passes it on only while
    it times this call (the seconds the grader uses are the supervisor's)."""
    seed = int(call.get("seed", 1000 + index))
    timeout = float(call.get("timeout", 10.0))
    record, seconds, value = attempt(call, seed, namespace)
    if seconds > timeout:  # the runner waits a little longer, for the second run only
        record = {"status": "timeout", "error": "it ran past its time budget"}
    elif call.get("mode", "call") == "value":
        pass  # a name's value: a second read in the same process could not differ
    elif seconds <= RERUN_SHARE * timeout:
        end_children()
        if reset is not None:
            reset()
        if not _same_again(call, seed, namespace, (record, value)):
            record = {
                "status": "error",
                "error": "it returned different values for the same inputs and seed",
                "error_type": NOT_REPRODUCIBLE,
                "traceback": "",
            }
        record["rerun"] = True
    else:
        record["rerun"] = False
    # For profiling only, at a fixed width: what this process allocates must not depend on
    # the clock, or id() in a later call of the same process would differ between gradings.
    record["seconds"] = f"{min(seconds, 99999.0):012.6f}"
    send_record(record_fd, index, json.dumps(record, allow_nan=False).encode())
