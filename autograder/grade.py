"""Grade one submission: stage it, run the harness in the sandbox, run the hidden checks.

    submission -> staging (data only) -> sandbox + harness -> outputs (data)
               -> hidden checks vs effdl (trusted process) -> scored GradeResult

Nothing the student wrote runs in this process; the grade depends only on the data the
harness wrote and on the reference library.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import assignments, sandbox, suite
from autograder.checking import Sub
from autograder.course import Course
from autograder.job import write_job
from autograder.outputs import read_output
from autograder.submission import Submission, load_submission


@dataclass
class GradeResult:
    """Everything known about one graded submission."""

    student_id: str
    assignment: str
    outcomes: list[suite.CheckOutcome]
    max_points: dict[str, float]
    variant: str
    variant_claimed: str | None
    sandboxed: bool
    check_version: str
    content_hash: str
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    plots: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""

    @property
    def variant_mismatch(self) -> bool:
        return self.variant_claimed is not None and self.variant_claimed != self.variant

    def points(self, outcome: suite.CheckOutcome) -> float:
        return self.max_points[outcome.spec.id] * outcome.fraction

    @property
    def score(self) -> float:
        return round(sum(self.points(o) for o in self.outcomes), 4)

    @property
    def max_score(self) -> float:
        """The maximum without extra credit (extra credit counts above it)."""
        return sum(self.max_points[o.spec.id] for o in self.outcomes if not o.spec.extra_credit)


# Modules the harness loads before the submission's folder is on the import path: a file of
# the same name (numpy.py beside the notebook) could never take effect, so it is left out.
HARNESS_MODULES = frozenset(
    [
        "ast",
        "base64",
        "builtins",
        "contextlib",
        "copy",
        "io",
        "json",
        "os",
        "random",
        "re",
        "select",
        "shutil",
        "signal",
        "sys",
        "time",
        "traceback",
        "numpy",
        "torch",
    ]
)


def _shadows_library(path: Path, info: assignments.Assignment) -> str | None:
    """The module loaded before the submission that a submitted .py file is named after."""
    if path.suffix != ".py" or path.name in info.submitted_modules + info.given_modules:
        return None
    return path.stem if path.stem in HARNESS_MODULES | set(info.preimport) else None


def _stage_modules(sub: Submission, info: assignments.Assignment, work: Path) -> list[str]:
    """Copy the notebook's folder into the work dir; fill in given modules that are missing."""
    notes = []
    base = sub.files_dir
    if sub.notebook_name:
        base = (sub.files_dir / sub.notebook_name).parent
    for path in base.iterdir():
        if path.is_file() and not path.is_symlink():
            module = _shadows_library(path, info)
            if module:
                notes.append(
                    f"left out {path.name}: it is named like the library module {module!r}, "
                    "which the grader loads itself (rename your file if you meant to use it)"
                )
                continue
            shutil.copyfile(path, work / path.name)
    for name in info.submitted_modules:
        if not (work / name).exists():
            notes.append(f"{name} was not in the submission: its graded code cannot be checked")
    for name in info.given_modules:
        if not (work / name).exists() and (info.bundle_dir / name).is_file():
            shutil.copyfile(info.bundle_dir / name, work / name)
    return notes


def _copy_regular_files(source: Path, dest: Path) -> None:
    """Copy the sandbox's output folder: regular files only. The submission may have left
    links there (to files of this machine) or pipes, which a plain copy would follow."""
    for path in sorted(source.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def grade_submission(
    path: Path,
    assignment: str,
    course: Course,
    student_id: str | None = None,
    slot: int = 0,
    limits: sandbox.Limits | None = None,
    keep_dir: Path | None = None,
) -> GradeResult:
    """Grade the submission at `path` (a notebook, a folder or a zip of either)."""
    info = assignments.get(assignment)
    checks = suite.load(assignment)
    limits = limits or sandbox.Limits()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="effdl-grade-") as tmp:
        root = Path(tmp)
        root.chmod(0o711)
        sub = load_submission(path, assignment, root / "staging", student_id)
        variant = info.variant(course.secret, sub.student_id)
        calls = checks.calls(variant)
        job_dir, work_dir, out_dir = root / "job", root / "work", root / "out"
        for d in (job_dir, work_dir, out_dir):
            d.mkdir()
        notes = list(sub.notes) + _stage_modules(sub, info, work_dir)
        write_job(job_dir / "job.json", info, sub.cells, calls)
        timings["stage"] = time.perf_counter() - started
        run = sandbox.run_harness(job_dir, work_dir, out_dir, limits, slot)
        timings["sandbox"] = run.wall_seconds
        output = read_output(out_dir, len(calls))
        if keep_dir is not None:
            _copy_regular_files(out_dir, keep_dir)
    notes += run.notes + _harness_notes(output, run)
    checks_started = time.perf_counter()
    meta = {"student_id": sub.student_id, "assignment": assignment}
    sub_view = Sub(calls, output, variant, meta)
    outcomes = checks.run(sub_view)
    timings["checks"] = time.perf_counter() - checks_started
    timings["total"] = time.perf_counter() - started
    overrides = course.settings(assignment).points
    result = GradeResult(
        student_id=sub.student_id,
        assignment=assignment,
        outcomes=outcomes,
        max_points={o.spec.id: float(overrides.get(o.spec.id, o.spec.points)) for o in outcomes},
        variant=variant["variant"],
        variant_claimed=sub.variant_claimed,
        sandboxed=run.sandboxed,
        check_version=checks.version,
        content_hash=sub.content_hash,
        notes=notes,
        timings=timings,
        plots=getattr(sub_view, "plots", []),
        stdout=output.stdout,
    )
    if result.variant_mismatch:
        result.notes.insert(
            0,
            f"VARIANT MISMATCH: this notebook carries variant {result.variant_claimed!r}, but "
            f"student {result.student_id!r} was given variant {result.variant!r}.",
        )
    return result


def _harness_notes(output: Any, run: sandbox.SandboxRun) -> list[str]:
    notes = list(output.notes)
    for event in output.skipped:
        notes.append(
            f"skipped a statement of cell {event.get('cell')} (line {event.get('line')}): "
            f"{str(event.get('reason'))[:100]}: {str(event.get('code', ''))[:80]!r}"
        )
    for event in output.failed_statements[:10]:
        notes.append(f"a statement failed while defining your code: {event.get('error')}")
    if run.timed_out:
        notes.append("grading stopped at its overall time limit: later calls did not run")
    if run.oom_killed:
        notes.append("a process hit the memory limit and was killed")
    if run.returncode not in (0, None) and not run.timed_out:
        notes.append(f"the grading harness exited with code {run.returncode}")
    return notes
