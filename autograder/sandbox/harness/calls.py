"""One graded call: find the student's function, rebuild its inputs, call it, write the value.

Modes: "call" calls func(*args, **kwargs) (`repeat` times with fresh copies of the inputs
and one shared generator, returning the list); "value" returns a name's value
(TF_ANSWERS); any other mode is an assignment's fixture (see `register_fixtures`): a
function fixture(graded_object, spec) that builds what the call needs (a torch layer, a
small net) and returns plain data.
"""

from __future__ import annotations

import copy
import json
import os
import random
import sys
import time
import traceback
from collections.abc import Callable
from types import ModuleType
from typing import Any

from . import codec

MISSING_NAME = "EffdlNameMissing"
MODES: dict[str, Callable[[Any, Any], Any]] = {}
SUBMITTED: list[str] = []  # support modules beside the notebook that may define graded names


class EffdlNameMissing(LookupError):
    """A graded name the submission does not define."""


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
        if repeat == 1:
            return target(*args, **kwargs)
        out = []
        for _ in range(repeat):  # fresh copies of the inputs, one shared generator
            again = [copy.deepcopy(a) for a in args]
            fresh = {k: v if k == "rng" else copy.deepcopy(v) for k, v in kwargs.items()}
            out.append(target(*again, **fresh))
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


def run_one(call: dict[str, Any], index: int, namespace: dict[str, Any], out_dir: str) -> None:
    """Seed, run one call, encode its value and write calls/INDEX.json atomically."""
    seed = int(call.get("seed", 1000 + index))
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
    started = time.perf_counter()
    try:
        value = run_call(call, namespace)
        record = {"status": "ok", "value": codec.encode(value)}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt count as the call failing
        record = {"status": "error", **describe_exception(exc)}
    record["seconds"] = time.perf_counter() - started
    path = os.path.join(out_dir, "calls", f"{index}.json")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(record, fh, allow_nan=False)
    os.replace(path + ".tmp", path)
