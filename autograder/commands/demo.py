"""`effdl demo`: build both assignments and grade a set of sample submissions end to end.

The samples are each solution bundle (must get full marks), each blank student bundle (must
get 0 without crashing the grader), and the flawed submissions under samples/ (each must
lose the points of its mistake and nothing else). The table says whether each came out as
expected; the feedback pages land next to it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import plugin
from autograder.authoring import samples
from autograder.authoring.bundles import build_canonical
from autograder.course.settings import Course
from autograder.grading.grade import grade_submission
from autograder.grading.result import GradeResult
from autograder.grading.score import Score
from autograder.publishing.student import publish
from autograder.sandbox import backend


@dataclass
class DemoCase:
    """One demo submission and what it should score."""

    student: str
    assignment: str
    path: Path
    kind: str  # "solution", "blank" or "flawed"
    expect_lost: tuple[str, ...] = ()
    description: str = ""


def verdict(case: DemoCase, result: GradeResult, score: Score) -> tuple[bool, str]:
    """Whether a graded case came out as expected, and a few words on how."""
    lost = result.lost
    errors = [c.id for c in result.checks if c.status == "error"]
    errors += [note.partition(":")[0] for note in result.staff_notes]
    if not result.graded:
        return False, f"not graded: {result.error}"
    if errors:
        return False, f"grader error in {', '.join(errors)}"
    if case.kind == "solution":
        return (not lost, "full marks" if not lost else f"lost {', '.join(sorted(lost))}")
    if case.kind == "blank":
        return (score.raw == 0, "0 points" if score.raw == 0 else f"{score.raw:g} points")
    expected = set(case.expect_lost)
    if lost == expected:
        return True, f"lost exactly {len(lost)} expected check(s)"
    parts = []
    if expected - lost:
        parts.append(f"kept {', '.join(sorted(expected - lost))}")
    if lost - expected:
        parts.append(f"also lost {', '.join(sorted(lost - expected))}")
    return False, "; ".join(parts)


def demo_cases(bundles: Path, work: Path) -> list[DemoCase]:
    """The solution, the blank and every flawed sample of each assignment."""
    cases = []
    for name in plugin.names():
        solution = bundles / "solutions" / name
        blank = bundles / "assignments" / name
        cases.append(DemoCase(f"{name}-solution", name, solution, "solution"))
        cases.append(DemoCase(f"{name}-blank", name, blank, "blank"))
        for sample in samples.samples(name):
            path = samples.materialize(sample, solution, work / name / sample.name)
            cases.append(
                DemoCase(
                    f"{name}-{sample.name}",
                    name,
                    path,
                    "flawed",
                    sample.expect_lost,
                    sample.description,
                )
            )
    return cases


def run_demo(out: Path) -> int:
    """Build, grade every demo case, print the table; 0 when everything came out as expected."""
    started = time.perf_counter()
    kind, why = backend()
    print(f"sandbox: {why}" if kind == "bwrap" else f"WARNING: no sandbox: {why}")
    bundles, work, graded = out / "bundles", out / "submissions", out / "graded"
    for folder in (work, graded):
        if folder.exists():
            shutil.rmtree(folder)
    build_canonical(plugin.names(), Course(), bundles, force=True)
    print(f"built {', '.join(plugin.names())} into {bundles}")
    cases = demo_cases(bundles, work)
    width = max(len(c.student) for c in cases)
    print(f"\n{'submission':<{width}}  {'score (+extra)':>17}  {'time':>5}  result")
    failures = 0
    for case in cases:
        result = grade_submission(case.path, case.assignment, Course(), student_id=case.student)
        figures = publish(result, graded / case.student)
        ok, how = verdict(case, result, figures)
        failures += not ok
        score = f"{figures.points:g} / {figures.max_points:g}"
        score += f" +{figures.extra:g}" if figures.extra else ""
        mark = "as expected" if ok else "UNEXPECTED"
        print(
            f"{case.student:<{width}}  {score:>17}  {result.timings['total']:4.1f}s  {mark}: {how}"
        )
    print(f"\nfeedback pages: {graded}/<submission>/feedback.html")
    print(
        f"{len(cases)} submissions graded in {time.perf_counter() - started:.0f} s; "
        f"{len(cases) - failures} as expected, {failures} not"
    )
    return 1 if failures else 0
