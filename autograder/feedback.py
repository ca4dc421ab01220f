"""The student's feedback page: scores per problem, every message, and their curves.

One self-contained HTML file (inline CSS and SVG, no scripts, nothing fetched), rendered
with jinja2 and autoescaping, so that anything a submission printed or returned is shown as
text and never as markup.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2

from autograder import assignments
from autograder.grade import GradeResult
from autograder.results import write_atomic
from autograder.svgplot import line_plot

PAGES = Path(__file__).resolve().parent / "pages"


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(PAGES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def render_feedback(result: GradeResult, manual: list[dict[str, Any]] | None = None) -> str:
    """The feedback page's HTML; `manual` rows are hand-graded scores with comments."""
    rows = [
        {
            "problem": o.spec.problem,
            "title": o.spec.title,
            "function": o.spec.function,
            "points": result.points(o),
            "max": result.max_points[o.spec.id],
            "status": o.status,
            "message": o.message,
            "extra": o.spec.extra_credit,
        }
        for o in result.outcomes
    ]
    plots = [
        {
            "problem": p["problem"],
            "svg": line_plot(p["title"], p["series"], p["reference"], p.get("log_y", False)),
        }
        for p in result.plots
    ]
    extra_max = sum(result.max_points[o.spec.id] for o in result.outcomes if o.spec.extra_credit)
    return (
        _env()
        .get_template("feedback.html.j2")
        .render(
            assignment=result.assignment,
            assignment_title=assignments.get(result.assignment).title,
            student=result.student_id,
            variant=result.variant,
            variant_claimed=result.variant_claimed,
            variant_mismatch=result.variant_mismatch,
            check_version=result.check_version,
            graded_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            score=result.score + sum(float(m["points"]) for m in manual or []),
            max_score=result.max_score + sum(float(m["max"]) for m in manual or []),
            auto_score=result.score,
            auto_max=result.max_score,
            extra_max=extra_max,
            sandboxed=result.sandboxed,
            notes=result.notes,
            rows=rows,
            manual=manual or [],
            plots=plots,
            stdout=result.stdout[:20000],
        )
    )


def write_feedback(
    result: GradeResult, path: Path, manual: list[dict[str, Any]] | None = None
) -> None:
    write_atomic(path, render_feedback(result, manual))
