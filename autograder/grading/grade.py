"""Grade one submission: the one function every command that grades calls.

    submission -> intake (data only) -> statements + calls -> sandbox + harness
               -> outputs (data) -> hidden checks vs effdl (trusted process) -> GradeResult

Nothing the student wrote runs in this process; the grade depends only on the data the
harness wrote and on the reference library. A submission that cannot be graded (not a
notebook, folder or zip; unreadable) and a fault of the grader itself both come back as a
result, never as an exception, so that no submission can stop a batch.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from pathlib import Path

from autograder import plugin, sandbox
from autograder.checking.sub import Sub
from autograder.course.seed_key import seed_key_or_none
from autograder.course.settings import Course, check_point_ids
from autograder.grading import suite
from autograder.grading.intake import (
    Submission,
    SubmissionError,
    load_submission,
    missing_literals,
)
from autograder.grading.job import write_job
from autograder.grading.outputs import HarnessOutput, read_output
from autograder.grading.result import NOT_GRADED, CheckResult, GradeResult, bounded
from autograder.grading.statements import split_statements
from autograder.sandbox.cleanup import remove_tree

# Modules the harness loads before the submission's folder is on the import path: a file of
# the same name (numpy.py beside the notebook) could never take effect, so it is left out.
NO_SEED_KEY = (
    "hidden inputs drawn from a public key: the course has no secret and no seed key could be "
    "kept (see autograder/course/seed_key.py), so a student can compute them from the code"
)
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
        "harness",
        "fixtures",
    ]
)


def _shadows_library(path: Path, manifest: plugin.Manifest) -> str | None:
    """The module loaded before the submission that a submitted .py file is named after."""
    if path.suffix != ".py" or path.name in manifest.submitted_modules + manifest.given_modules:
        return None
    return path.stem if path.stem in HARNESS_MODULES | set(manifest.preimport) else None


def _stage_modules(sub: Submission, manifest: plugin.Manifest, work: Path) -> list[str]:
    """Copy the notebook's folder into the work dir; fill in given modules that are missing."""
    notes = []
    base = sub.files_dir
    if sub.notebook_name:
        base = (sub.files_dir / sub.notebook_name).parent
    for path in base.iterdir():
        if path.is_file() and not path.is_symlink():
            module = _shadows_library(path, manifest)
            if module:
                notes.append(
                    f"left out {path.name}: it is named like the library module {module!r}, "
                    "which the grader loads itself (rename your file if you meant to use it)"
                )
                continue
            shutil.copyfile(path, work / path.name)
    for name in manifest.submitted_modules:
        if not (work / name).exists():
            notes.append(f"{name} was not in the submission: its graded code cannot be checked")
    for name in manifest.given_modules:
        if not (work / name).exists() and (manifest.bundle_dir / name).is_file():
            shutil.copyfile(manifest.bundle_dir / name, work / name)
    return notes


def _copy_regular_files(source: Path, dest: Path) -> None:
    """Copy the sandbox's output folder: regular files only. The submission may have left
    links there (to files of this machine), pipes, or trees too deep to walk recursively."""
    stack = [source]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for path in entries:
            if path.is_symlink():
                continue
            if path.is_dir():
                stack.append(path)
            elif path.is_file():
                target = dest / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)


def check_points(course: Course, assignment: str) -> None:
    """A CourseError when the course overrides the points of a check the assignment does not
    have. Commands call it before grading anything: every grading applies the overrides, and
    a misspelt id would leave its check at the default points in all of them."""
    check_point_ids(course, assignment, [spec.id for spec in suite.load(assignment).specs])


def not_graded(
    assignment: str, student_id: str, course: Course, reason: str, staff: str = ""
) -> GradeResult:
    """The result of a submission that could not be graded: every check lost, with why."""
    checks = suite.load(assignment)
    overrides = course.settings(assignment).points
    result = GradeResult(
        student_id=student_id,
        assignment=assignment,
        status=NOT_GRADED,
        error=reason,
        checks=[
            CheckResult(
                id=spec.id,
                problem=spec.problem,
                title=spec.title,
                function=spec.function,
                extra_credit=spec.extra_credit,
                max_points=float(overrides.get(spec.id, spec.points)),
                status="failed",
                fraction=0.0,
                message=f"not graded: {reason}",
            )
            for spec in checks.specs
        ],
        check_version=checks.version,
        notes=[f"This submission could not be graded: {reason}"],
        staff_notes=[staff] if staff else [],
    )
    return bounded(result)


def grade_submission(
    path: Path,
    assignment: str,
    course: Course,
    student_id: str | None = None,
    slot: int = 0,
    limits: sandbox.Limits | None = None,
    keep_dir: Path | None = None,
) -> GradeResult:
    """Grade the submission at `path` (a notebook, a folder or a zip of either). The student
    id defaults to the file or folder name; `slot` picks the sandbox uid of a parallel
    worker; `keep_dir` receives a copy of what the harness wrote (for debugging)."""
    from autograder.grading.intake import student_id_from_path

    sid = student_id or student_id_from_path(Path(path))
    try:
        return bounded(_grade(Path(path), assignment, course, sid, slot, limits, keep_dir))
    except SubmissionError as exc:
        return not_graded(assignment, sid, course, str(exc))
    except Exception as exc:  # a grader fault on one submission must not stop the others
        reason = f"the grader failed on it ({type(exc).__name__}); the course staff can see why"
        return not_graded(assignment, sid, course, reason, traceback.format_exc(limit=8))


def _grade(
    path: Path,
    assignment: str,
    course: Course,
    student_id: str,
    slot: int,
    limits: sandbox.Limits | None,
    keep_dir: Path | None,
) -> GradeResult:
    manifest = plugin.get(assignment)
    checks = suite.load(assignment)
    limits = limits or sandbox.Limits()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    # The submission writes into this folder (its zip unpacked, its output): removed with
    # remove_tree, which no tree it leaves there can make fail or recurse.
    root = Path(tempfile.mkdtemp(prefix="effdl-grade-"))
    try:
        root.chmod(0o711)
        sub = load_submission(path, assignment, root / "staging", student_id)
        variant = manifest.variant(course.secret, sub.student_id)
        key = course.secret or course.seed_key or seed_key_or_none()
        seed = suite.submission_seed(key, assignment, sub.student_id, sub.content_hash)
        calls, own = checks.plan(variant, seed)
        statements, statement_notes = split_statements(sub.cells)
        job_dir, work_dir, out_dir = root / "job", root / "work", root / "out"
        for d in (job_dir, work_dir, out_dir):
            d.mkdir()
        notes = list(sub.notes) + statement_notes + _stage_modules(sub, manifest, work_dir)
        write_job(job_dir, manifest, statements, calls)
        timings["stage"] = time.perf_counter() - started
        run = sandbox.run_harness(job_dir, work_dir, out_dir, limits, slot)
        timings["sandbox"] = run.wall_seconds
        output = read_output(run.channel, len(calls))
        # the graded calls as the supervisor timed them (both runs of each): the floor
        # under the sandbox's time that no change to the grader can remove
        timings["calls"] = sum(c.seconds or 0.0 for c in output.calls)
        if keep_dir is not None:
            _copy_regular_files(out_dir, keep_dir)
    finally:
        left = remove_tree(root)
    if left:
        leftover = [f"{left} entries under {root} could not be removed after grading"]
    else:
        leftover = []
    notes += run.notes + _harness_notes(output, run, calls)
    checks_started = time.perf_counter()
    settings = course.settings(assignment)
    meta = {
        "student_id": sub.student_id,
        "assignment": assignment,
        "true_false_feedback": settings.true_false_feedback,
    }
    view = Sub(calls, output, variant, meta)
    overrides = settings.points
    results, faults = checks.run(view, own, {k: float(v) for k, v in overrides.items()})
    timings["checks"] = time.perf_counter() - checks_started
    timings["total"] = time.perf_counter() - started
    result = GradeResult(
        student_id=sub.student_id,
        assignment=assignment,
        checks=results,
        variant=variant["variant"],
        variant_claimed=sub.variant_claimed,
        variant_missing=_variant_missing(sub, manifest, variant),
        sandboxed=run.sandboxed,
        check_version=checks.version,
        content_hash=sub.content_hash,
        notebook=sub.notebook_name,
        notes=notes,
        timings=timings,
        plots=view.plots,
        stdout=output.stdout,
        staff_notes=run.staff_notes + faults + leftover + ([] if key else [NO_SEED_KEY]),
    )
    if result.variant_claimed is not None and result.variant_claimed != result.variant:
        result.notes.insert(
            0,
            f"VARIANT MISMATCH: this notebook carries variant {result.variant_claimed!r}, but "
            f"student {result.student_id!r} was given variant {result.variant!r}."
            + (NO_SECRET_HINT if course.secret is None else ""),
        )
    elif result.variant_missing:
        shown = "; ".join(
            text[:60] + ("..." if len(text) > 60 else "") for text in result.variant_missing[:4]
        )
        result.notes.insert(
            0,
            f"VARIANT MISMATCH: the numbers of variant {result.variant!r}, given to student "
            f"{result.student_id!r}, are not all in this notebook's cells (not found: {shown}): "
            "it may have been made for someone else.",
        )
    return result


NO_SECRET_HINT = (
    " No course secret was given to the grader, which is the likely cause (every student is "
    "then given the canonical variant): grade with --course course.toml (its [course] secret "
    "made the students' notebooks) or set EFFDL_COURSE."
)


def _variant_missing(sub: Submission, manifest: plugin.Manifest, variant: dict) -> list[str]:
    """The variant's literals that the notebook's cells lack (none are looked for in a
    notebook whose cells could not be read)."""
    if manifest.variant_literals is None or not sub.cells:
        return []
    return missing_literals(sub.cells, manifest.variant_literals(variant))


def _harness_notes(output: HarnessOutput, run: sandbox.SandboxRun, calls: list) -> list[str]:
    notes = list(output.notes)
    unstable = sorted(
        {c.func for c, r in zip(calls, output.calls) if r.status == "not_reproducible"}
    )
    if unstable:
        notes.append(
            "not reproducible: "
            + ", ".join(f"`{f}`" for f in unstable[:10])
            + " returned different values for the same inputs and seed when called twice; "
            "those calls count as failed, since a grade must be the same at every grading"
        )
    if output.not_rerun:
        notes.append(
            f"{output.not_rerun} call(s) took over a quarter of their time budget and were made "
            "once only: whether they return the same values every time was not checked"
        )
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
