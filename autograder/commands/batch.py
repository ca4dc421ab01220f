"""Grade a whole class folder in parallel, into a gradebook, resumably.

    effdl grade --class DIR --assignment NAME --gradebook PATH [--workers N] [--out DIR]
    effdl grade --class DIR ... --dask SCHEDULER          (the same on a Dask cluster)

Each entry of DIR (a notebook, a folder or a zip) is one student's submission, named by the
student id. The parent process plans the work, starts N long-lived worker processes (each
imports the check suite once and owns its own sandbox slot, so its own unprivileged uid),
hands them one submission at a time, and is the only writer of the gradebook: a worker sends
its result back as plain data and the parent stores it in one transaction, then writes
OUT/<student>/results.json and feedback.html atomically.

Resuming: a submission whose content hash and check version match the student's current
graded row is skipped; `regrade=True` grades everything again (older rows stay as history).
A kill at any moment leaves the gradebook at its last commit; the next run repairs result
files that are missing or stale, removes temporary files of interrupted writes, and grades
what is left. Ctrl-C and SIGTERM stop the workers, record the run's counts and say so.

With --dask SCHEDULER the tasks go to Dask workers instead of this module's pool
(commands/dask_batch.py, which passes its runner here); planning, recording and publishing
are this module's, unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing as mp
import os
import re
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from autograder import plugin
from autograder.course import late
from autograder.course.settings import Course, load_course
from autograder.course.students import RosterError, check_student_id
from autograder.gradebook import Gradebook, GradebookError, SubmissionRow
from autograder.gradebook.course_file import course_for, remember
from autograder.grading.intake import load_submission, student_id_from_path
from autograder.grading.result import GradeResult
from autograder.grading.score import score_of
from autograder.publishing.class_scores import lateness_of
from autograder.publishing.student import pages_agree, publish
from autograder.sandbox.cleanup import remove_tree

SUBMISSION_SUFFIXES = (".ipynb", ".zip")
IGNORED_FILES = (late.METADATA_NAME,)
STALE_TMP = re.compile(r"^\.(results\.json|feedback\.html)\.\d+\.tmp$")
WORK_PREFIX = "effdl-batch-"
MAX_WORKER_RESTARTS = 5


class BatchError(ValueError):
    """A class folder or option that cannot be graded as asked."""


@dataclass(frozen=True)
class Entry:
    """One student's submission in the class folder."""

    student_id: str
    path: Path


@dataclass
class Task:
    """A submission to grade, and why it is graded now."""

    entry: Entry
    assignment: str
    reason: str
    submitted: late.SubmittedTime
    lateness: late.Lateness
    previous: SubmissionRow | None = None  # the stored result a regrade replaces


@dataclass
class BatchSummary:
    """What a batch run did."""

    total: int = 0
    graded: int = 0
    skipped: int = 0
    failed: int = 0
    repaired: int = 0
    seconds: float = 0.0
    workers: int = 1
    cluster: str = ""  # the Dask scheduler the workers were on ("" for the built-in pool)
    timings: list[dict[str, float]] = field(default_factory=list)
    writer_seconds: list[float] = field(default_factory=list)  # record + files, per result
    failures: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    retimed: list[str] = field(default_factory=list)  # unchanged, with a new submission time
    recorded: set[str] = field(default_factory=set)  # the students this run stored a result of


@dataclass(frozen=True)
class Retime:
    """An unchanged submission whose submission time, from the submission system, is new."""

    row: SubmissionRow
    submitted: late.SubmittedTime
    lateness: late.Lateness


# ---------------------------------------------------------------------- discovery
def discover(folder: Path) -> tuple[list[Entry], list[str]]:
    """The submissions in a class folder, sorted by student id, and what was left out (with
    why). Entries that name the same student (alice.ipynb beside alice.ipynb.zip) are all
    left out: one of them may be another student's, named to replace alice's grade."""
    if not folder.is_dir():
        raise BatchError(f"class folder {folder} does not exist or is not a folder")
    entries: dict[str, list[Path]] = {}
    warnings = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")) or path.name in IGNORED_FILES:
            continue
        if path.is_symlink():
            warnings.append(f"left out {path.name}: symbolic links are not graded")
            continue
        if not path.is_dir() and path.suffix not in SUBMISSION_SUFFIXES:
            warnings.append(f"left out {path.name}: not a notebook, a folder or a zip")
            continue
        sid = student_id_from_path(path)
        try:
            check_student_id(sid)
        except RosterError as exc:
            warnings.append(f"left out {path.name}: {exc}")
            continue
        entries.setdefault(sid, []).append(path)
    doubles = {sid: paths for sid, paths in entries.items() if len(paths) > 1}
    for sid, paths in sorted(doubles.items()):
        names = ", ".join(p.name for p in paths)
        warnings.append(
            f"left out {names}: these entries all name student {sid!r}, and which one is theirs "
            "cannot be told; that student's grade is left as it was (rename or remove all but one)"
        )
    kept = [Entry(sid, paths[0]) for sid, paths in sorted(entries.items()) if sid not in doubles]
    return kept, warnings


def staged_hash(path: Path, assignment: str, student_id: str) -> str | None:
    """The content hash the grader would compute for a submission (None if it cannot be
    staged, for whatever reason: it is then graded, and the grading says why)."""
    staging = Path(tempfile.mkdtemp(prefix="effdl-hash-"))
    try:
        return load_submission(path, assignment, staging / "staging", student_id).content_hash
    except Exception:  # one entry's trouble must not stop the planning of the class
        return None
    finally:
        remove_tree(staging)


# ---------------------------------------------------------------------- workers
def claim_slot() -> tuple[int, Any]:
    """A sandbox slot no other live process holds (from 1 up: 0 is the single grade's); the
    lock is held as long as the returned handle is open (or the process lives)."""
    folder = Path(tempfile.gettempdir()) / "effdl-slots"
    folder.mkdir(mode=0o755, exist_ok=True)
    for slot in range(1, 1000):
        handle = open(folder / f"slot-{slot}.lock", "a+")  # noqa: SIM115 (held for life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        return slot, handle
    raise RuntimeError("no free sandbox slot among 1..999")


def _worker_main(conn: Connection, assignment: str, course_path: str | None) -> None:
    """A worker process: claim a slot, import the checks once, grade what the parent sends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt does
    from autograder.grading import suite
    from autograder.grading.grade import grade_submission

    slot, _lock = claim_slot()
    work = make_workdir()
    tempfile.tempdir = str(work)
    try:
        course = load_course(course_path)
        suite.load(assignment)
        conn.send(("ready", slot))
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return
            if task is None:
                return
            sid, path = task
            try:
                result = grade_submission(Path(path), assignment, course, student_id=sid, slot=slot)
                conn.send(("done", sid, result.to_dict()))
            except Exception:  # grade_submission returns every failure; this is a last guard
                conn.send(("failed", sid, "internal grader error:\n" + traceback.format_exc(-4)))
    except (BrokenPipeError, EOFError, KeyboardInterrupt):
        return
    finally:
        remove_tree(work)


def make_workdir() -> Path:
    """This process's temporary folder (what a killed worker leaves in it is swept later by
    sweep_stale_workdirs, which finds the folder by the pid in its name)."""
    work = Path(tempfile.gettempdir()) / f"{WORK_PREFIX}{os.getpid()}"
    work.mkdir(mode=0o711, exist_ok=True)
    work.chmod(0o711)
    return work


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, ctx: Any, assignment: str, course_path: str | None) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, assignment, course_path), daemon=True
        )
        self.process.start()
        child.close()
        self.task: Task | None = None
        self.ready = False
        self.slot: int | None = None

    def stop(self) -> None:
        """Ask the worker to exit; kill it if it does not within 5 s."""
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def sweep_stale_workdirs() -> list[str]:
    """Remove temporary folders of batch workers that no longer run (killed batches); what
    could not be removed is returned as warnings, never raised: a folder a submission left
    behind must not stop the next batch."""
    warnings = []
    root = Path(tempfile.gettempdir())
    for path in root.glob(f"{WORK_PREFIX}*"):
        pid = path.name[len(WORK_PREFIX) :]
        try:
            if not pid.isdigit() or not path.is_dir() or path.is_symlink():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            left = remove_tree(path)
            if left:
                warnings.append(f"could not remove {left} entries of a stale folder {path}")
        except (OSError, ValueError, OverflowError):
            continue
    return warnings


# ---------------------------------------------------------------------- progress
class Progress:
    """done / running / failed / time left: tqdm on a terminal, a plain line otherwise."""

    def __init__(self, total: int, label: str) -> None:
        self.total = total
        self.started = time.monotonic()
        self.last_line = self.started
        self.bar = None
        if sys.stderr.isatty() and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, unit="sub", file=sys.stderr, leave=True)

    def update(self, done: int, running: int, failed: int, final: bool = False) -> None:
        """Show the counts (a plain line at most every 5 s when not on a terminal)."""
        if self.bar is not None:
            self.bar.n = done
            self.bar.set_postfix_str(f"running {running}, failed {failed}", refresh=True)
            if final:
                self.bar.close()
            return
        moment = time.monotonic()
        if not final and moment - self.last_line < 5.0:
            return
        self.last_line = moment
        elapsed = moment - self.started
        left = ""
        if 0 < done < self.total:
            left = f", about {_duration(elapsed / done * (self.total - done))} left"
        print(
            f"done {done}/{self.total}, running {running}, failed {failed}, "
            f"{_duration(elapsed)} elapsed{left}",
            file=sys.stderr,
            flush=True,
        )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


# ---------------------------------------------------------------------- writing results
def write_outputs(
    book: Gradebook, result: GradeResult, folder: Path, lateness: late.Lateness | None
) -> None:
    """A stored result's results.json and feedback.html, with the student's hand-graded
    scores and the late policy's verdict."""
    manual = book.manual_scores_of(result.assignment, result.student_id)
    publish(result, folder, manual, lateness)


def clean_stale_tmp(out: Path) -> int:
    """Remove temporary files that an interrupted atomic write left in OUT/<student>/."""
    removed = 0
    if not out.is_dir():
        return 0
    for folder in out.iterdir():
        if folder.is_dir() and not folder.is_symlink():
            for path in folder.iterdir():
                if STALE_TMP.match(path.name) and path.is_file():
                    path.unlink()
                    removed += 1
    return removed


def repair_outputs(
    book: Gradebook, assignment: str, out: Path, course: Course, warnings: list[str]
) -> int:
    """Rewrite OUT/<student>/ result files that are missing or are not what the gradebook's
    current row, its hand-graded scores and the course's settings give now (a run killed
    between its commit and its files, a new --out, an extension or a late policy changed in
    course.toml since). A row whose files cannot be written is named in `warnings`; it never
    stops the batch."""
    repaired = 0
    for row in book.current(assignment).values():
        folder = out / row.student_id
        result = book.result(row.id)
        standing = lateness_of(course, row)
        manual = book.manual_scores_of(assignment, row.student_id)
        if not pages_agree(result, folder, manual, standing):
            try:
                write_outputs(book, result, folder, standing)
            except Exception as exc:  # noqa: BLE001 - one student's files, never the batch
                text = f"{row.student_id}: its result files could not be written again ({exc})"
                warnings.append(text[:500])
                continue
            repaired += 1
        where = str(folder.resolve())
        if row.out_dir != where:  # feedback pages are rendered again here (manual import)
            book.set_out_dir(row.id, where)
    return repaired


def apply_times(book: Gradebook, retimes: list[Retime], out: Path, summary: BatchSummary) -> None:
    """Store the new submission times of unchanged submissions and write their students'
    files again: the grade stands, the late policy is applied from the new time."""
    for retime in retimes:
        row, submitted = retime.row, retime.submitted
        book.set_submitted(row.id, submitted.at.isoformat(), submitted.source, retime.lateness.late)
        summary.retimed.append(row.student_id)
        try:
            write_outputs(book, book.result(row.id), out / row.student_id, retime.lateness)
        except Exception as exc:  # noqa: BLE001 - the time is stored; the next run rewrites
            text = f"{row.student_id}: its result files could not be written again ({exc})"
            summary.warnings.append(text[:500])


def only_students(entries: list[Entry], students: list[str], class_dir: Path) -> list[Entry]:
    """The entries of the students named with --student (each must have one)."""
    wanted = dict.fromkeys(check_student_id(s) for s in students)
    found = {e.student_id: e for e in entries}
    missing = [s for s in wanted if s not in found]
    if missing:
        raise BatchError(
            f"no submission in {class_dir} for --student {', '.join(missing)} "
            "(or it was left out: see the warnings above it)"
        )
    return [found[s] for s in sorted(wanted)]


# ---------------------------------------------------------------------- the batch
def plan(
    entries: list[Entry],
    book: Gradebook,
    assignment: str,
    course: Course,
    regrade: bool,
    times_csv: Path | None,
    class_dir: Path,
    retimes: list[Retime] | None = None,
) -> tuple[list[Task], int, list[str]]:
    """Which submissions to grade now (with why and when they came in), how many skip, and
    warnings (entries left out; arrival times used against a due date). An unchanged
    submission that the submission system (--times, Gradescope's metadata) now gives another
    time than the stored one is skipped and added to `retimes`; an arrival time never
    replaces a stored time (a copy of the folder would move it)."""
    from autograder.grading import suite

    version = suite.load(assignment).version
    current = book.current(assignment)
    csv_times = late.read_times_csv(times_csv) if times_csv else None
    class_times = late.class_metadata(class_dir)
    settings = course.settings(assignment)
    tasks = []
    skipped = 0
    warnings: list[str] = []
    for entry in entries:
        row = current.get(entry.student_id)
        if regrade:
            reason = "regrade" if row else "new"
        elif row is None:
            reason = "new"
        elif row.status == "failed":
            reason = "retry: it could not be graded before"
        elif row.check_version != version:
            reason = "the checks changed"
        elif staged_hash(entry.path, assignment, entry.student_id) == row.content_hash:
            skipped += 1
            if retimes is not None:
                retime = _new_time(entry, row, settings, csv_times, class_times)
                if retime is not None:
                    retimes.append(retime)
            continue
        else:
            reason = "the submission changed"
        try:
            submitted = late.submission_time(entry.path, entry.student_id, csv_times, class_times)
        except OSError as exc:  # it went away since the folder was read
            warnings.append(f"left out {entry.path.name}: it cannot be read ({exc.strerror})")
            continue
        standing = late.lateness(settings, entry.student_id, submitted.at, submitted.source)
        previous = row if regrade and row is not None and row.status == "graded" else None
        tasks.append(Task(entry, assignment, reason, submitted, standing, previous))
    arrivals = sum(t.submitted.source == "arrival" for t in tasks)
    if arrivals and settings.due is not None:
        warnings.append(
            f"{arrivals} submission time(s) are the times the entries arrived in {class_dir} "
            "(never times inside them): a copy of the folder made after the due date makes them "
            "late; give --times or Gradescope's metadata for the submission system's times"
        )
    return tasks, skipped, warnings


def _new_time(
    entry: Entry,
    row: SubmissionRow,
    settings: Any,
    csv_times: dict[str, Any] | None,
    class_times: dict[str, Any],
) -> Retime | None:
    """The submission system's time of an unchanged submission, when it is not the stored one."""
    try:
        submitted = late.submission_time(entry.path, entry.student_id, csv_times, class_times)
    except OSError:
        return None
    if submitted.source == "arrival":
        return None
    if (submitted.at.isoformat(), submitted.source) == (row.submitted_at, row.submitted_source):
        return None
    standing = late.lateness(settings, entry.student_id, submitted.at, submitted.source)
    return Retime(row, submitted, standing)


Runner = Callable[[list[Task], Gradebook, BatchSummary, Course], None]


def grade_class(
    class_dir: Path,
    assignment: str,
    gradebook: Path,
    out: Path,
    workers: int = 1,
    regrade: bool = False,
    course_path: str | None = None,
    times_csv: Path | None = None,
    progress: bool = True,
    runner: Runner | None = None,
    students: list[str] | None = None,
) -> BatchSummary:
    """Grade every submission in `class_dir` that needs it (only those of `students`, when
    given); see the module docstring. Without `course_path` the course file the gradebook
    recorded is used (course_file.course_for). `runner` grades the planned tasks somewhere
    else than this module's pool of `workers` (commands/dask_batch.py's); it records them
    with _store, and the run with recorded_run."""
    plugin.get(assignment)
    if workers < 1:
        raise BatchError("--workers must be at least 1")
    load_course(course_path)  # a bad course file fails before anything is read or made
    started = time.monotonic()
    entries, warnings = discover(class_dir)
    if students:
        entries = only_students(entries, students, class_dir)
    summary = BatchSummary(total=len(entries), workers=workers, warnings=warnings)

    def pool(tasks: list[Task], book: Gradebook, summary: BatchSummary, course: Course) -> None:
        path = str(course.path) if course.path is not None else None
        with recorded_run(book, assignment, workers, regrade, summary):
            _run(tasks, book, assignment, path, out, workers, summary, progress)

    lock = lock_gradebook(gradebook)
    try:
        with Gradebook.open(gradebook) as book, _terminate_as_interrupt():
            course = course_for(book, assignment, course_path)
            remember(book, assignment, course)
            clean_stale_tmp(out)
            summary.warnings += sweep_stale_workdirs()
            summary.repaired = repair_outputs(book, assignment, out, course, summary.warnings)
            retimes: list[Retime] = []
            tasks, summary.skipped, planned = plan(
                entries, book, assignment, course, regrade, times_csv, class_dir, retimes
            )
            summary.warnings += planned
            apply_times(book, retimes, out, summary)
            try:
                (runner or pool)(tasks, book, summary, course)
            except KeyboardInterrupt:
                message = interrupted_message(summary, tasks, regrade)
                print(message, file=sys.stderr, flush=True)
                raise
    finally:
        lock.close()
    summary.seconds = time.monotonic() - started
    return summary


@contextlib.contextmanager
def recorded_run(
    book: Gradebook, assignment: str, workers: int, regrade: bool, summary: BatchSummary
) -> Iterator[None]:
    """A row in the gradebook's runs table around the grading; its counts are written also
    when the grading stops early (an interrupt, a lost cluster)."""
    run_id = book.start_run(assignment, workers, regrade)
    try:
        yield
    finally:
        book.finish_run(run_id, summary.graded, summary.skipped, summary.failed)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler's or a job system's stop) and SIGINT handled alike: the workers
    are stopped, the run's counts recorded. SIGINT is set too, since a batch started in the
    background of a script inherits it ignored. Only the main thread can install handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def interrupted_message(summary: BatchSummary, tasks: list[Task], regrade: bool = False) -> str:
    """What an interrupted batch did, and how to go on. A rerun skips what is unchanged,
    which after a --regrade is everyone (their grades were kept): the ones left are named,
    to regrade with --student."""
    recorded = summary.graded + summary.failed
    planned = len(tasks)
    head = (
        f"interrupted: {recorded} of the {planned} submissions to grade were recorded "
        f"({summary.graded} graded, {summary.failed} could not be graded); the gradebook "
        "holds whole results only. "
    )
    if not regrade:
        return head + (
            f"Run the same command again to grade the other {planned - recorded}: "
            "what was recorded is skipped."
        )
    left = [t.entry.student_id for t in tasks if t.entry.student_id not in summary.recorded]
    options = " ".join(f"--student {sid}" for sid in left)
    return head + (
        f"The other {len(left)} keep their previous grade. Rerunning the same command would "
        "regrade everyone again, and one without --regrade skips them all (they are "
        f"unchanged): to regrade only those left, add to the command: {options}"
    )


def lock_gradebook(path: Path) -> Any:
    """An exclusive lock beside the gradebook: one batch writes into it at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115 (held for the run)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise BatchError(
            f"another batch is grading into {path} right now; wait for it to finish"
        ) from None
    return handle


def _run(
    tasks: list[Task],
    book: Gradebook,
    assignment: str,
    course_path: str | None,
    out: Path,
    workers: int,
    summary: BatchSummary,
    show_progress: bool,
) -> None:
    """Start the workers, feed them the tasks, record each result as it comes back."""
    if not tasks:
        return
    course = load_course(course_path)
    ctx = mp.get_context("spawn")
    pending = deque(tasks)
    pool = [_Worker(ctx, assignment, course_path) for _ in range(min(workers, len(tasks)))]
    restarts = 0
    progress = Progress(len(tasks), assignment) if show_progress else None
    done = 0
    try:
        while pending or any(w.task is not None for w in pool):
            for worker in pool:
                _dispatch(worker, pending)
            ready = wait([w.conn for w in pool] + [w.process.sentinel for w in pool], timeout=1.0)
            for worker in list(pool):
                if worker.conn in ready or worker.conn.poll():
                    try:
                        message = worker.conn.recv()
                    except (EOFError, OSError):
                        message = None
                    if message is not None:
                        finished = _handle(message, worker, pending, book, course, out, summary)
                        done += finished
                        if finished:
                            restarts = 0  # only workers dying one after another stop a batch
                        continue
                if worker.process.sentinel in ready or not worker.process.is_alive():
                    worker.process.join(timeout=1)
                    if worker.process.is_alive():
                        continue
                    code = worker.process.exitcode
                    if worker.task is not None:
                        _failed(
                            book,
                            course,
                            worker.task,
                            f"the grading worker died (exit code {code}) while grading it",
                            out,
                            summary,
                        )
                        done += 1
                        worker.task = None
                    pool.remove(worker)
                    worker.conn.close()
                    if pending:
                        restarts += 1
                        if restarts > MAX_WORKER_RESTARTS:
                            raise BatchError(
                                f"grading workers died {restarts} times in a row, each on a "
                                f"different submission (last exit code {code}); "
                                f"{len(pending)} submissions were not graded"
                            )
                        pool.append(_Worker(ctx, assignment, course_path))
            if progress is not None:
                running = sum(w.task is not None for w in pool)
                progress.update(done, running, summary.failed)
            if not pool and pending:
                raise BatchError("no grading worker is left")
    finally:
        for worker in pool:
            worker.stop()
        if progress is not None:
            progress.update(done, 0, summary.failed, final=True)


def _dispatch(worker: _Worker, pending: deque[Task]) -> None:
    """Send an idle, ready worker the next submission."""
    if worker.ready and worker.task is None and pending:
        worker.task = pending.popleft()
        entry = worker.task.entry
        worker.conn.send((entry.student_id, str(entry.path.resolve())))


def _handle(
    message: tuple[Any, ...],
    worker: _Worker,
    pending: deque[Task],
    book: Gradebook,
    course: Course,
    out: Path,
    summary: BatchSummary,
) -> int:
    """Act on one message from a worker; 1 when it finished a submission. The worker gets
    its next submission before this one is recorded, so that it never waits for the disk."""
    kind = message[0]
    if kind == "ready":
        worker.ready, worker.slot = True, message[1]
        _dispatch(worker, pending)
        return 0
    task = worker.task
    worker.task = None
    if task is None or message[1] != task.entry.student_id:
        raise BatchError(f"a worker answered out of turn: {message[:2]}")
    _dispatch(worker, pending)
    if kind == "failed":
        _failed(book, course, task, str(message[2]), out, summary)
        return 1
    try:
        result = GradeResult.from_dict(message[2])
    except Exception:  # a last guard: the worker sends what grade_submission returned
        _failed(
            book, course, task, "its result could not be read back from the worker", out, summary
        )
        return 1
    _store(book, course, task, result, out, summary)
    return 1


def _store(
    book: Gradebook,
    course: Course,
    task: Task,
    result: GradeResult,
    out: Path,
    summary: BatchSummary,
) -> None:
    """_store_now with Ctrl-C and SIGTERM held until it returns: a result is stored, written
    and counted whole, so the run's counts always equal what the gradebook holds."""
    with _interrupts_held():
        _store_now(book, course, task, result, out, summary)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Run the block to its end; a SIGINT or SIGTERM that came meanwhile is delivered again
    after it, to the handler it would have met (KeyboardInterrupt, in a batch). Outside the
    main thread nothing can be held (nor is delivered)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, frame: came.append(signum)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for sig in dict.fromkeys(came):
        signal.raise_signal(sig)


def regrade_changed(previous: SubmissionRow | None, result: GradeResult) -> str:
    """What to tell the staff when a regrade of the same content with the same checks gave
    another score (empty when it did not): the grader keeps the clocks and the entropy that
    student code sees fixed, so the submission's answers depend on something else (threads,
    timings read through ctypes...), and neither grade can be trusted alone."""
    if previous is None or not result.graded or previous.score is None:
        return ""
    if (previous.content_hash, previous.check_version) != (
        result.content_hash,
        result.check_version,
    ):
        return ""
    now = score_of(result).raw
    if abs(now - previous.score) <= 1e-9:
        return ""
    return (
        f"regraded with the same content and the same checks, the score went from "
        f"{previous.score:g} to {now:g}: its answers depend on something outside the "
        "grader's control (threads, timings); look at it before trusting either grade"
    )


def _store_now(
    book: Gradebook,
    course: Course,
    task: Task,
    result: GradeResult,
    out: Path,
    summary: BatchSummary,
) -> None:
    """Record a result in the gradebook (one transaction), then write its files. A result
    the gradebook refuses is recorded as "could not be graded", with why; nothing about one
    submission stops the batch."""
    folder = out / task.entry.student_id
    sid = task.entry.student_id
    changed = regrade_changed(task.previous, result)
    if changed:
        result.staff_notes.append(changed)
        summary.warnings.append(f"{sid}: {changed}")
    writing = time.perf_counter()
    try:
        _record(book, task, result, folder)
    except (GradebookError, sqlite3.Error, OverflowError, ValueError, TypeError) as exc:
        from autograder.grading.grade import not_graded

        reason = f"its result could not be stored in the gradebook ({type(exc).__name__})"
        result = not_graded(task.assignment, sid, course, reason, f"{sid}: {exc}"[:2000])
        try:
            _record(book, task, result, folder)
        except (GradebookError, sqlite3.Error, OverflowError, ValueError, TypeError) as again:
            summary.failed += 1
            summary.failures[sid] = f"{reason}; recording that failed too: {again}"[:500]
            return
    try:
        write_outputs(book, result, folder, task.lateness)
    except Exception as exc:  # the row is stored; the next run rewrites missing files
        summary.warnings.append(f"{sid}: its result files could not be written ({exc})"[:500])
    summary.writer_seconds.append(time.perf_counter() - writing)
    summary.recorded.add(sid)
    if result.graded:
        summary.graded += 1
        summary.timings.append(dict(result.timings))
    else:
        summary.failed += 1
        summary.failures[sid] = result.error


def _record(book: Gradebook, task: Task, result: GradeResult, folder: Path) -> None:
    book.record(
        result,
        source_path=str(task.entry.path.resolve()),
        submitted_at=task.submitted.at.isoformat(),
        submitted_source=task.submitted.source,
        late=task.lateness.late,
        reason=task.reason,
        out_dir=str(folder.resolve()),
    )


def _failed(
    book: Gradebook, course: Course, task: Task, error: str, out: Path, summary: BatchSummary
) -> None:
    """Record a submission whose grading produced no result (its worker died)."""
    from autograder.grading.grade import not_graded

    reason = error.splitlines()[0] if error else "the grader failed on it"
    result = not_graded(task.assignment, task.entry.student_id, course, reason, error)
    _store(book, course, task, result, out, summary)


def format_summary(summary: BatchSummary, gradebook: Path, out: Path) -> str:
    """The lines printed at the end of a batch."""
    lines = list(f"warning: {w}" for w in summary.warnings)
    where = f" on Dask ({summary.cluster})" if summary.cluster else ""
    lines.append(
        f"{summary.total} submissions: {summary.graded} graded, {summary.skipped} unchanged "
        f"(skipped), {summary.failed} could not be graded; {summary.seconds:.0f} s with "
        f"{summary.workers} worker(s){where}"
    )
    if summary.retimed:
        names = ", ".join(summary.retimed[:20]) + (" ..." if len(summary.retimed) > 20 else "")
        lines.append(
            f"{len(summary.retimed)} submission times updated ({names}): their grades stand, "
            "their pages were written again with the late policy at the new times"
        )
    if summary.repaired:
        lines.append(
            f"rewrote {summary.repaired} student(s)' result files that were missing or stale "
            "(not what the gradebook and the course settings give now)"
        )
    for sid, error in sorted(summary.failures.items()):
        lines.append(f"  {sid}: {error.splitlines()[0] if error else 'failed'}")
    lines.append(f"gradebook: {gradebook}")
    lines.append(f"feedback pages: {out}/<student>/feedback.html")
    return "\n".join(lines)
