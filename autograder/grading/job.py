"""Write a submission's job: the harness, the statements to run and the calls to make.

JOB/job.json   statements, calls (inputs encoded by the harness's codec), budgets,
               what the sandbox pre-imports, the fixture modules and submitted modules
JOB/harness/   the harness package;  JOB/fixtures/: the assignment's fixtures, if any
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from autograder.checking.spec import Call
from autograder.plugin import Manifest
from autograder.sandbox.harness import codec
from autograder.sandbox.install import fixture_modules, install_harness


def call_seed(call_id: str) -> int:
    """The seed the harness gives Python's, numpy's and torch's global generators before a
    call: fixed per call id (unless the call names its own seed), so a regrade sees the same
    streams whatever the call order."""
    return int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:4], "little") % 2**31


def job_data(manifest: Manifest, statements: list[dict[str, Any]], calls: list[Call]) -> dict:
    """job.json's content."""
    return {
        "statements": statements,
        "calls": [
            {
                "id": call.id,
                "func": call.func,
                "mode": call.mode,
                "args": [codec.encode(a, strict=True) for a in call.args],
                "kwargs": codec.encode(dict(call.kwargs), strict=True),
                "repeat": call.repeat,
                "timeout": call.timeout,
                "seed": call_seed(call.id) if call.seed is None else int(call.seed),
                "pure": call.pure,
            }
            for call in calls
        ],
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
    """Fill `job_dir` (an empty folder) with the harness and job.json."""
    install_harness(job_dir, manifest.fixtures_dir)
    data = job_data(manifest, statements, calls)
    (job_dir / "job.json").write_text(json.dumps(data), encoding="utf-8")
