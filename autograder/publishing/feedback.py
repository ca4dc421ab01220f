"""The student's feedback page: the score, every check's message, and their curves.

One self-contained HTML file (inline CSS and SVG, no scripts, nothing fetched), rendered
with autoescaping, so that anything a submission printed or returned is shown as text and
never as markup. Problems appear in their numerical order (A2.1 before A2.10, A3 before
A3.1), each check's message once.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from autograder import plugin
from autograder.course.late import Lateness
from autograder.grading.result import MAX_PLOTS, GradeResult
from autograder.grading.score import Score
from autograder.publishing.files import write_atomic
from autograder.publishing.pages import render
from autograder.publishing.results_json import submission_info
from autograder.publishing.svgplot import line_plot


def problem_order(key: str) -> list[Any]:
    """A sort key that puts problems in numerical order: A2.2 < A2.10, B3(b) < B3(c)."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", key) if p]


def render_feedback(
    result: GradeResult,
    score: Score,
    manual: list[dict[str, Any]] | None = None,
    lateness: Lateness | None = None,
) -> str:
    """The feedback page's HTML; `manual` rows are the hand-graded questions, `lateness`
    the late policy's verdict (the page says when it was submitted and who says so)."""
    rows = [
        {
            "problem": c.problem,
            "title": c.title,
            "function": c.function,
            "points": c.points,
            "max": c.max_points,
            "status": c.status,
            "message": c.message,
            "extra": c.extra_credit,
        }
        for c in sorted(result.checks, key=lambda c: problem_order(c.problem))
    ]
    plots = [
        {
            "problem": p["problem"],
            "svg": line_plot(
                p["title"],
                p["series"],
                p["reference"],
                p.get("log_y", False),
                x_label=p.get("x_label", "step"),
                x_step=p.get("x_step", 1),
            ),
        }
        for p in sorted(result.plots[:MAX_PLOTS], key=lambda p: problem_order(p["problem"]))
    ]
    try:
        title = plugin.get(result.assignment).title
    except plugin.UnknownAssignment:
        title = result.assignment
    return render(
        "feedback.html.j2",
        assignment=result.assignment,
        assignment_title=title,
        student=result.student_id,
        graded=result.graded,
        error=result.error,
        notebook=result.notebook,
        variant=result.variant,
        variant_claimed=result.variant_claimed,
        variant_mismatch=result.variant_mismatch,
        variant_missing=result.variant_missing,
        check_version=result.check_version,
        graded_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        score=score,
        sandboxed=result.sandboxed,
        notes=[n for n in result.notes if not n.startswith("VARIANT MISMATCH")],
        rows=rows,
        manual=sorted(manual or [], key=lambda m: problem_order(m["problem"])),
        plots=plots,
        stdout=result.stdout[:20000],
        submission=submission_info(lateness),
    )


def write_feedback(
    result: GradeResult,
    score: Score,
    path: Path,
    manual: list[dict[str, Any]] | None = None,
    lateness: Lateness | None = None,
) -> None:
    write_atomic(path, render_feedback(result, score, manual, lateness))
