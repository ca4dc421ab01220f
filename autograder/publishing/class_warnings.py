"""What a class's grades say about the grading itself: patterns a person should look at.

Most of a class flagged as variant mismatches is the usual sign of a forgotten --course (the
grader compared everyone with the canonical numbers); many submissions that could not be
graded point at the upload or the class folder; a check that most of the class fails is more
often a wrong check (or a problem statement that misleads) than a class that got it wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from autograder.grading.result import GradeResult

MISMATCH_SHARE = 0.5
UNGRADABLE_SHARE = 0.2
FAILING_SHARE = 0.6
MIN_CLASS = 5  # below this many graded submissions, shares say little


def class_warnings(results: Sequence[GradeResult]) -> list[str]:
    """Warnings about a whole class's current results (empty when nothing stands out)."""
    warnings = []
    graded = [r for r in results if r.graded]
    ungradable = len(results) - len(graded)
    if results and ungradable / len(results) >= UNGRADABLE_SHARE and ungradable >= 2:
        warnings.append(
            f"{ungradable} of {len(results)} submissions could not be graded: check the "
            "uploads and the class folder (the report lists why for each)"
        )
    if len(graded) < MIN_CLASS:
        return warnings
    mismatched = sum(r.variant_mismatch for r in graded)
    if mismatched / len(graded) >= MISMATCH_SHARE:
        warnings.append(
            f"{mismatched} of {len(graded)} graded notebooks carry another student's variant: "
            "usually the course file was left out (--course course.toml, or EFFDL_COURSE), so "
            "everyone was graded on the canonical numbers; grade again with it"
        )
    unsandboxed = sum(not r.sandboxed for r in graded)
    if unsandboxed:
        warnings.append(f"{unsandboxed} submissions were graded without the sandbox")
    lost: dict[str, int] = {}
    titles: dict[str, str] = {}
    for r in graded:
        for c in r.checks:
            titles[c.id] = f"{c.problem} {c.title}"
            lost[c.id] = lost.get(c.id, 0) + c.lost
    for check, count in sorted(lost.items()):
        if count / len(graded) >= FAILING_SHARE:
            warnings.append(
                f"{count} of {len(graded)} students lost points on {check} ({titles[check]}): "
                "when most of a class fails a check, look at the check and the problem "
                "statement before the students"
            )
    faults = sum(bool(r.staff_notes) for r in results)
    if faults:
        warnings.append(
            f"the grader failed on part of {faults} submissions (see their staff notes)"
        )
    return warnings
