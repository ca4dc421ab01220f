"""Write a GradeResult as Gradescope's autograder results.json.

Schema (https://gradescope-autograders.readthedocs.io/en/latest/specs/): a top-level score,
output and tests [{name, number, score, max_score, status, output, visibility, tags}]. Extra
credit checks carry the tag "extra credit"; their points count above the maximum. What this
platform adds lives under extra_data.effdl.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from autograder.grade import GradeResult


def results_dict(result: GradeResult) -> dict[str, Any]:
    """The results.json content for one graded submission."""
    tests = []
    for outcome in result.outcomes:
        spec = outcome.spec
        tags = [spec.problem, spec.function] + (["extra credit"] if spec.extra_credit else [])
        tests.append(
            {
                "name": f"{spec.problem} {spec.title}",
                "number": spec.problem,
                "score": round(result.points(outcome), 4),
                "max_score": result.max_points[spec.id],
                "status": "passed" if outcome.status == "passed" else "failed",
                "output": outcome.message or "Passed.",
                "visibility": "visible",
                "tags": tags,
                "extra_data": {"check_id": spec.id, "effdl_status": outcome.status},
            }
        )
    header = [
        f"{result.assignment}: {result.score:g} / {result.max_score:g} points"
        + (" (extra credit included)" if any(o.spec.extra_credit for o in result.outcomes) else "")
    ]
    header += result.notes
    return {
        "score": result.score,
        "output": "\n".join(header),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "effdl": {
                "student_id": result.student_id,
                "assignment": result.assignment,
                "variant": result.variant,
                "variant_claimed": result.variant_claimed,
                "variant_mismatch": result.variant_mismatch,
                "sandboxed": result.sandboxed,
                "check_version": result.check_version,
                "content_hash": result.content_hash,
                "max_score": result.max_score,
                "timings": {k: round(v, 4) for k, v in result.timings.items()},
            }
        },
    }


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that it is either the old or the new content, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_results(result: GradeResult, path: Path) -> None:
    write_atomic(path, json.dumps(results_dict(result), indent=2) + "\n")
