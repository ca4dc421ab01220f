"""A result as Gradescope's autograder results.json, with the total of the score model.

Schema (https://gradescope-autograders.readthedocs.io/en/latest/specs/): a top-level score,
output and tests [{name, number, score, max_score, status, output, visibility, tags}]. Extra
credit checks carry the tag "extra credit"; hand-graded questions appear as tests of their
own (0 until graded). The top-level score is the score model's total (late multiplier
applied); extra_data.effdl holds the whole score and what this platform adds, among it the
submission time and the source it came from (`submission`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autograder.course.late import Lateness, describe_source
from autograder.grading.result import GradeResult
from autograder.grading.score import Score
from autograder.publishing.files import write_atomic


def submission_info(lateness: Lateness | None) -> dict[str, Any]:
    """When the submission came in, where that time came from, and its standing."""
    submitted = lateness.submitted if lateness is not None else None
    source = lateness.source if lateness is not None and submitted is not None else ""
    deadline = lateness.deadline if lateness is not None else None
    return {
        "submitted_at": submitted.isoformat() if submitted is not None else None,
        "time_source": source or None,
        "time_source_text": describe_source(source),
        "deadline": deadline.isoformat() if deadline is not None else None,
        "late": bool(lateness.late) if lateness is not None else False,
    }


def results_dict(
    result: GradeResult,
    score: Score,
    manual: list[dict[str, Any]] | None = None,
    lateness: Lateness | None = None,
) -> dict[str, Any]:
    """The results.json content; `manual` are the feedback page's hand-graded rows and
    `lateness` the late policy's verdict (with the submission time and its source)."""
    tests = []
    for check in result.checks:
        tags = [check.problem, check.function] + (["extra credit"] if check.extra_credit else [])
        tests.append(
            {
                "name": f"{check.problem} {check.title}",
                "number": check.problem,
                "score": check.points,
                "max_score": check.max_points,
                "status": "passed" if check.status == "passed" else "failed",
                "output": check.message or "Passed.",
                "visibility": "visible",
                "tags": tags,
                "extra_data": {"check_id": check.id, "effdl_status": check.status},
            }
        )
    for row in manual or []:
        tests.append(
            {
                "name": f"{row['problem']} {row['title']} (graded by hand)",
                "number": row["problem"],
                "score": row["points"] or 0.0,
                "max_score": row["max"],
                "status": "passed" if row["points"] == row["max"] else "failed",
                "output": row["comment"] or ("Not graded yet." if row["pending"] else ""),
                "visibility": "visible",
                "tags": [row["problem"], "graded by hand"]
                + (["extra credit"] if row["extra"] else []),
                "extra_data": {"question": row["problem"], "pending": row["pending"]},
            }
        )
    header = [f"{result.assignment}: {score.summary()}"]
    if result.notebook:
        header.append(f"graded notebook: {result.notebook}")
    info = submission_info(lateness)
    if info["submitted_at"]:
        header.append(f"submitted {info['submitted_at']} (time from {info['time_source_text']})")
    header += result.notes
    return {
        "score": score.total,
        "output": "\n".join(header),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "effdl": {
                "student_id": result.student_id,
                "assignment": result.assignment,
                "status": result.status,
                "notebook": result.notebook,
                "variant": result.variant,
                "variant_claimed": result.variant_claimed,
                "variant_mismatch": result.variant_mismatch,
                "sandboxed": result.sandboxed,
                "check_version": result.check_version,
                "content_hash": result.content_hash,
                "score": score.to_dict(),
                "submission": info,
                "timings": {k: round(v, 4) for k, v in result.timings.items()},
            }
        },
    }


def write_results(
    result: GradeResult,
    score: Score,
    path: Path,
    manual: list[dict[str, Any]] | None = None,
    lateness: Lateness | None = None,
) -> None:
    text = json.dumps(results_dict(result, score, manual, lateness), indent=2)
    write_atomic(path, text + "\n")
