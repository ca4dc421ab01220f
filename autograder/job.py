"""Write the harness's job: which notebook cells to run and which calls to make, as JSON.

The encoding mirrors harness.decode_input: arrays as base64 with dtype and shape, tuples and
non-finite floats tagged, Rng(seed) as {"__rng__": seed}.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from autograder.assignments import Assignment
from autograder.checking import Call, Rng


def encode_input(value: Any) -> Any:
    """JSON-ready form of a call argument."""
    if isinstance(value, Rng):
        return {"__rng__": int(value.seed)}
    if isinstance(value, np.ndarray | np.generic):
        array = np.ascontiguousarray(value).reshape(np.shape(value))  # numpy scalars stay 0-d
        return {
            "__ndarray__": base64.b64encode(array.tobytes()).decode("ascii"),
            "dtype": array.dtype.str,
            "shape": list(array.shape),
        }
    if isinstance(value, tuple):
        return {"__tuple__": [encode_input(v) for v in value]}
    if isinstance(value, list):
        return [encode_input(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode_input(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot send a {type(value).__name__} to the harness")


def write_job(
    path: Path, assignment: Assignment, cells: list[dict[str, Any]], calls: list[Call]
) -> None:
    """Write job.json for the harness."""
    job = {
        "cells": cells,
        "calls": [
            {
                "id": call.id,
                "func": call.func,
                "mode": call.mode,
                "args": [encode_input(a) for a in call.args],
                "kwargs": encode_input(call.kwargs),
                "repeat": call.repeat,
                "timeout": call.timeout,
                "seed": 1000 + index,
            }
            for index, call in enumerate(calls)
        ],
        "budgets": {
            "run_all": assignment.statement_budget,
            "untagged": assignment.untagged_budget,
        },
        "preimport": list(assignment.preimport),
    }
    path.write_text(json.dumps(job), encoding="utf-8")
