"""The class report: how an assignment went, for the course staff, as one HTML page.

    effdl report --gradebook PATH --assignment NAME --out DIR   ->   DIR/report.html

It shows the score distribution, each check's pass rate, the most frequent diagnosed
mistakes (the "Likely cause: ..." lines of the check messages) with how many students made
each, the slowest submissions, and what needs a person: submissions that could not be graded,
grader errors, variant mismatches, unsandboxed runs, late submissions. The plots are PNG
images (matplotlib, Agg) embedded in the page as data URIs, so the page is one file.
"""

from __future__ import annotations

import base64
import io
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import plugin
from autograder.course.settings import Course, load_course
from autograder.gradebook import Gradebook, now
from autograder.gradebook.course_file import course_for
from autograder.publishing.class_scores import StudentScore, class_scores
from autograder.publishing.class_warnings import class_warnings
from autograder.publishing.files import write_atomic
from autograder.publishing.pages import render

CAUSE = re.compile(r"Likely causes?:\s*(.+)")


@dataclass
class CheckStats:
    """How one check went across the class."""

    id: str
    problem: str
    title: str
    max_points: float
    passed: int = 0
    partial: int = 0
    failed: int = 0
    errors: int = 0
    points: float = 0.0

    @property
    def count(self) -> int:
        return self.passed + self.partial + self.failed + self.errors

    @property
    def pass_rate(self) -> float:
        return self.passed / self.count if self.count else 0.0


def causes_of(message: str) -> list[str]:
    """The diagnosed causes named in a check message (text after 'Likely cause:')."""
    out = []
    for match in CAUSE.finditer(message or ""):
        text = " ".join(match[1].split())
        if text:
            out.append(text[:300])
    return out


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(scores: list[float], max_score: float, checks: list[CheckStats]) -> dict[str, str]:
    """The score histogram and the pass-rate bars, as PNG data URIs."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    plots = {}
    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    top = max([max_score, *scores]) if scores else max_score
    bins = max(5, min(25, len(set(scores)) + 1))
    ax.hist(scores, bins=bins, range=(0, top or 1), color="#1f77b4", edgecolor="white")
    ax.axvline(max_score, color="#d62728", linestyle="--", label=f"maximum {max_score:g}")
    ax.set_xlabel("score (extra credit included)")
    ax.set_ylabel("students")
    ax.set_title("Score distribution")
    ax.legend()
    plots["scores"] = _png(fig)

    fig = Figure(figsize=(7, 0.3 * len(checks) + 1.2))
    ax = fig.add_subplot()
    labels = [f"{c.problem} {c.id}" for c in checks][::-1]
    rates = [100 * c.pass_rate for c in checks][::-1]
    ax.barh(labels, rates, color=["#2ca02c" if r >= 80 else "#ff7f0e" for r in rates])
    ax.set_xlim(0, 100)
    ax.set_xlabel("passed (% of graded submissions)")
    ax.set_title("Pass rate by check")
    ax.tick_params(axis="y", labelsize=8)
    plots["checks"] = _png(fig)
    return plots


def _lateness(students: list[StudentScore]) -> Counter:
    """How many submissions are late, and how many lose points, under the course policy."""
    counts: Counter = Counter()
    for student in students:
        if student.lateness.late:
            counts["late"] += 1
            if student.lateness.multiplier < 1:
                counts["penalized"] += 1
    return counts


def build_report(book: Gradebook, assignment: str, course: Course | None = None) -> str:
    """The report page's HTML; with the course (its secret), each student's own key."""
    info = plugin.get(assignment)
    students = class_scores(book, assignment, course or Course())
    rows = [s.row for s in students]
    graded = [r for r in rows if r.status == "graded"]
    failed = [r for r in rows if r.status == "failed"]
    checks: dict[str, CheckStats] = {}
    mistakes: Counter = Counter()
    mistake_students: dict[tuple[str, str], list[str]] = defaultdict(list)
    errors = []
    for c in book.check_results(assignment):
        stats = checks.setdefault(
            c["check_id"], CheckStats(c["check_id"], c["problem"], c["title"], c["max_points"])
        )
        stats.points += c["points"]
        status = c["status"]
        if status == "passed":
            stats.passed += 1
        elif status == "partial":
            stats.partial += 1
        elif status == "error":
            stats.errors += 1
            errors.append((c["student_id"], c["check_id"]))
        else:
            stats.failed += 1
        if status != "passed":
            for cause in set(causes_of(c["message"])):
                mistakes[(c["check_id"], cause)] += 1
                mistake_students[(c["check_id"], cause)].append(c["student_id"])
    for student in students:  # a check that raised on a submission: failed, with a staff note
        for note in student.result.staff_notes:
            check_id = note.partition(":")[0].strip()
            if (student.result.student_id, check_id) not in errors:
                errors.append((student.result.student_id, check_id))
    scores = [s.score.total for s in students if s.result.graded]
    max_score = max((s.score.maximum for s in students), default=0.0)
    stats_line = {}
    if scores:
        stats_line = {
            "mean": statistics.fmean(scores),
            "median": statistics.median(scores),
            "min": min(scores),
            "max": max(scores),
            "stdev": statistics.pstdev(scores),
            "full": sum(s >= max_score for s in scores),
            "zero": sum(s == 0 for s in scores),
        }
    check_list = list(checks.values())
    plots = _plots(scores, max_score, check_list) if graded else {}
    slowest = sorted(graded, key=lambda r: -(r.seconds_total or 0.0))[:10]
    times = [r.seconds_total for r in graded if r.seconds_total is not None]
    top_mistakes = [
        {
            "check": check,
            "cause": cause,
            "count": count,
            "students": sorted(mistake_students[(check, cause)]),
        }
        for (check, cause), count in mistakes.most_common(15)
    ]
    late_counts = _lateness(students)
    return render(
        "report.html.j2",
        assignment=assignment,
        title=info.title,
        generated=now(),
        gradebook=str(book.path),
        students=len(rows),
        graded=len(graded),
        failed=failed,
        stats=stats_line,
        max_score=max_score,
        checks=check_list,
        mistakes=top_mistakes,
        slowest=slowest,
        median_seconds=statistics.median(times) if times else None,
        errors=errors,
        mismatches=[r.student_id for r in graded if r.variant_mismatch],
        unsandboxed=[r.student_id for r in graded if not r.sandboxed],
        late=late_counts,
        regraded=sum(1 for r in book.history(assignment) if not r.is_current),
        plots=plots,
        totals={s.student_id: s.score.total for s in students},
        warnings=class_warnings([s.result for s in students]),
        roster=[
            {
                "student": s.student_id,
                "name": s.person.name,
                "variant": s.result.variant,
                "total": s.score.total,
                "status": s.result.status,
                "key": info.key_text((course or Course()).secret, s.student_id),
            }
            for s in students
        ],
    )


def write_report(
    gradebook: Path, assignment: str, out: Path, course_path: str | None = None
) -> Path:
    """Write OUT/report.html from the gradebook; returns its path."""
    plugin.get(assignment)
    load_course(course_path)  # a bad course file is named before the gradebook is opened
    with Gradebook.open(gradebook, create=False) as book:
        html = build_report(book, assignment, course_for(book, assignment, course_path))
    page = out / "report.html"
    write_atomic(page, html)
    return page
