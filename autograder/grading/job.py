"""Write a submission's job: the harness, the statements to run and the calls to make.

JOB/job.json   statements, calls (inputs encoded by the harness's codec), budgets,
               what the sandbox pre-imports, the fixture modules and submitted modules
JOB/harness/   the harness package;  JOB/fixtures/: the assignment's fixtures, if any
SEALED/slotR.json  beside JOB, for calls with private inputs: rank R's share of each, which
               the sandbox gets as a file of its own (never in job.json; harness/sealed.py)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from autograder.checking.spec import Call
from autograder.plugin import Manifest
from autograder.sandbox.harness import codec
from autograder.sandbox.install import fixture_modules, install_harness, sealed_dir


def call_seed(call_id: str) -> int:
    """The seed the harness gives Python's, numpy's and torch's global generators before a
    call: fixed per call id (unless the call names its own seed), so a regrade sees the same
    streams whatever the call order."""
    return int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:4], "little") % 2**31


def _private(call: Call) -> tuple[str, int, np.ndarray] | None:
    """(name, axis, value) of a call's private input, checked, or None."""
    if call.private is None:
        return None
    name, axis = call.private
    if name not in call.kwargs:
        raise ValueError(f"call {call.id}: its private input {name!r} is not one of its kwargs")
    value = np.asarray(call.kwargs[name])
    if not 0 <= axis < value.ndim or value.shape[axis] < 1:
        raise ValueError(f"call {call.id}: {name!r} of shape {value.shape} has no axis {axis}")
    return name, axis, value


def _call_data(call: Call) -> dict[str, Any]:
    kwargs = dict(call.kwargs)
    data: dict[str, Any] = {}
    private = _private(call)
    if private is not None:
        name, axis, value = private
        del kwargs[name]
        data["private"] = {"name": name, "axis": axis, "shape": list(value.shape)}
    return {
        "id": call.id,
        "func": call.func,
        "mode": call.mode,
        "args": [codec.encode(a, strict=True) for a in call.args],
        "kwargs": codec.encode(kwargs, strict=True),
        "repeat": call.repeat,
        "timeout": call.timeout,
        "seed": call_seed(call.id) if call.seed is None else int(call.seed),
        "pure": call.pure,
        **data,
    }


def private_shares(calls: list[Call]) -> list[dict[str, Any]]:
    """Per rank r, {call index: rank r's share of that call's private input} (encoded)."""
    slots: list[dict[str, Any]] = []
    for index, call in enumerate(calls):
        private = _private(call)
        if private is None:
            continue
        _, axis, value = private
        for rank in range(value.shape[axis]):
            if rank == len(slots):
                slots.append({})
            share = np.take(value, rank, axis=axis)
            slots[rank][str(index)] = codec.encode(share, strict=True)
    return slots


def job_data(manifest: Manifest, statements: list[dict[str, Any]], calls: list[Call]) -> dict:
    """job.json's content (private inputs left out: see private_shares)."""
    return {
        "statements": statements,
        "calls": [_call_data(call) for call in calls],
        "budgets": {
            "run_all": manifest.statement_budget,
            "untagged": manifest.untagged_budget,
        },
        "preimport": list(manifest.preimport),
        "fixtures": fixture_modules(manifest.fixtures_dir),
        "modules": list(manifest.submitted_modules),
    }


def write_job(
    job_dir: Path, manifest: Manifest, statements: list[dict[str, Any]], calls: list[Call]
) -> None:
    """Fill `job_dir` (an empty folder) with the harness and job.json, and write the calls'
    private shares, one file per rank, in the folder `sealed_dir(job_dir)`."""
    install_harness(job_dir, manifest.fixtures_dir)
    data = job_data(manifest, statements, calls)
    (job_dir / "job.json").write_text(json.dumps(data), encoding="utf-8")
    slots = private_shares(calls)
    if slots:
        folder = sealed_dir(job_dir)
        folder.mkdir()
        for rank, shares in enumerate(slots):
            (folder / f"slot{rank}.json").write_text(json.dumps(shares), encoding="utf-8")
