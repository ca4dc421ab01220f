"""Grade a class on a Dask cluster: `effdl grade --class DIR ... --dask SCHEDULER`.

SCHEDULER is `local:N` (a LocalCluster of N worker processes on this machine), a scheduler's
address (`tcp://host:8786`, `tls://...`) or a scheduler file (`scheduler.json`, as
`dask scheduler --scheduler-file` and dask-jobqueue write it). Only the way a submission
reaches a worker differs from the built-in pool (commands/batch.py): this process plans the
batch, and it alone writes the gradebook (one transaction per result, as results complete)
and the result files, so a batch on Dask stays resumable and transactional.

One task per submission. The task carries the submission's bytes, never a path, so workers
need no shared filesystem: a notebook or zip travels as its file, a folder as its regular
files (with their modification times, which choose between notebooks), its links as names
and the files the intake would refuse for their size as (name, size) only, which the
worker rebuilds as empty sparse files so that the intake refuses them with the same notes.
What travels is thus at most the intake's own caps (grading.intake); a zip over
MAX_SENT_BYTES is not sent and is recorded as not graded, with why (NotSent).

A worker grades with grade_submission, as a pool worker does, in a sandbox slot of its own
(WorkerSlot, claimed once per worker process, so its own sandbox uid), one submission at a
time, and returns GradeResult.to_dict(). A worker that dies mid-task loses nothing: the
scheduler gives the task to another worker, and after the scheduler's allowed failures
(ALLOWED_FAILURES on a local cluster, 3 by Dask's default) it is recorded as not graded; a
result is stored at most once per student per run. Workers must run this project's checks: at the start every worker reports
its check version, and a worker with other checks stops the batch before anything is graded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import socket
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from autograder.commands import batch
from autograder.commands.batch import BatchError, BatchSummary, Task
from autograder.course.settings import Course, load_course
from autograder.gradebook import Gradebook
from autograder.grading import intake
from autograder.grading.result import GradeResult
from autograder.sandbox.cleanup import remove_tree

LOCAL = re.compile(r"local:(\d+)")
MAX_LOCAL_WORKERS = 256
MAX_SENT_BYTES = 128 * 2**20  # a zip larger than this is not sent to a worker
ALLOWED_FAILURES = 2  # worker deaths a task may see before it is recorded as not graded
TASK_RETRIES = 2  # re-runs of a task whose worker could not take it in (WorkerTrouble)
CONNECT_SECONDS = 30
FIRST_WORKER_SECONDS = 120  # how long to wait for a worker to join a remote scheduler
NO_WORKER_SECONDS = 300  # a batch with no worker for this long stops (nothing is lost)
SLOT_PLUGIN = "effdl-grading-slot"


class NotSent(ValueError):
    """A submission too large to be sent to a worker (recorded as not graded, with why)."""


class WorkerTrouble(RuntimeError):
    """A worker could not take a submission in (disk, slot, other checks): Dask runs the task
    again, on another worker where it can; after TASK_RETRIES it is recorded as not graded."""


# ---------------------------------------------------------------------- the option
def parse_scheduler(spec: str) -> tuple[str, Any]:
    """("local", N), ("file", path) or ("address", address) for a --dask option; a
    malformed one is a BatchError that says what is expected."""
    spec = spec.strip()
    if not spec:
        raise BatchError("--dask needs a scheduler: local:N, an address or a scheduler file")
    if spec.startswith("local"):
        match = LOCAL.fullmatch(spec)
        if match is None or not 1 <= int(match.group(1)) <= MAX_LOCAL_WORKERS:
            raise BatchError(
                f"--dask {spec}: a local cluster is local:N with N from 1 to {MAX_LOCAL_WORKERS}"
            )
        return "local", int(match.group(1))
    if spec.endswith(".json"):
        if not Path(spec).is_file():
            raise BatchError(f"--dask {spec}: no such scheduler file")
        return "file", spec
    return "address", spec


def _require_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise BatchError(
            "--dask needs Dask's distributed scheduler: pip install -e '.[dask]'"
        ) from None
    return distributed


@contextlib.contextmanager
def connect(spec: str) -> Iterator[Any]:
    """A Dask client on the cluster `spec` names; a local cluster is started for the batch
    and closed after it."""
    distributed = _require_distributed()
    import dask

    kind, value = parse_scheduler(spec)
    with contextlib.ExitStack() as stack:
        if kind == "local":
            # The scheduler of a local cluster runs in this process: its config is ours.
            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
                cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=value,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                        silence_logs=logging.ERROR,
                    )
                )
            client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
        else:
            where = {"scheduler_file": value} if kind == "file" else {"address": value}
            try:
                client = distributed.Client(**where, timeout=CONNECT_SECONDS, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise BatchError(f"cannot reach the Dask scheduler at {spec}: {exc}") from None
            stack.enter_context(client)
            try:
                client.wait_for_workers(1, timeout=FIRST_WORKER_SECONDS)
            except TimeoutError:
                raise BatchError(
                    f"no Dask worker joined the scheduler at {spec} within "
                    f"{FIRST_WORKER_SECONDS} s: start workers first (docs/dask.md)"
                ) from None
        yield client


# ---------------------------------------------------------------------- on the worker
try:
    from distributed.diagnostics.plugin import WorkerPlugin as _PluginBase
except ImportError:  # without the extra, the class exists but is never registered
    _PluginBase = object


class WorkerSlot(_PluginBase):  # type: ignore[misc, valid-type]
    """Each Dask worker process's sandbox slot and temporary folder, claimed once when the
    plug-in is set up on it (also on a worker that joins later or is restarted) and freed
    when it closes. Idempotent: batches that share a cluster share the slot, and its lock
    makes the worker grade one submission at a time."""

    name = SLOT_PLUGIN
    idempotent = True

    def setup(self, worker: Any) -> None:
        self.stale = batch.sweep_stale_workdirs()  # of workers of this machine that died
        self.slot, self.handle = batch.claim_slot()
        self.work = batch.make_workdir()
        self.lock = threading.Lock()

    def teardown(self, worker: Any) -> None:
        remove_tree(self.work)
        self.handle.close()


def probe(assignment: str) -> dict[str, Any]:
    """What a worker would grade with: its check version and its sandbox."""
    from autograder import sandbox
    from autograder.grading import suite

    kind, how = sandbox.backend()
    return {
        "version": suite.load(assignment).version,
        "sandbox": kind,
        "sandbox_how": how,
        "host": socket.gethostname(),
    }


def scheduler_probe() -> str:
    """Run on the scheduler: that it can load this module, hence unpack the batch's tasks."""
    return "ok"


def grade_task(
    student_id: str, assignment: str, course: Course, version: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Grade one submission on a Dask worker: rebuild it from `payload` in the worker's
    folder, grade it in the worker's sandbox slot, return GradeResult.to_dict()."""
    from distributed import get_worker

    from autograder.grading import suite
    from autograder.grading.grade import grade_submission

    worker = get_worker()
    slot = worker.plugins.get(SLOT_PLUGIN)
    if getattr(slot, "lock", None) is None:  # not registered, or its setup failed here
        raise WorkerTrouble("the grading worker has no sandbox slot\n" + worker.address)
    with slot.lock:
        found = suite.load(assignment).version
        if found != version:
            raise WorkerTrouble(
                "the grading worker has other checks installed\n"
                f"{worker.address}: check version {found}, the batch's {version}"
            )
        folder = Path(tempfile.mkdtemp(prefix="entry-", dir=slot.work))
        try:
            try:
                path = unpack(payload, folder)
            except OSError as exc:
                raise WorkerTrouble(
                    f"the grading worker could not take it in ({type(exc).__name__})\n"
                    f"{worker.address}: {exc}"
                ) from None
            previous, tempfile.tempdir = tempfile.tempdir, str(slot.work)
            try:
                result = grade_submission(
                    path, assignment, course, student_id=student_id, slot=slot.slot
                )
            finally:
                tempfile.tempdir = previous
        finally:
            remove_tree(folder)
    return {"result": result.to_dict(), "worker": worker.address}


# ---------------------------------------------------------------------- the payload
def pack(path: Path) -> dict[str, Any]:
    """A submission's bytes as a task carries them (see the module docstring). The folder
    rules are the intake's (_copy_folder): the same files accepted, the same refused."""
    if path.is_dir():
        files: list[tuple[str, int, bytes]] = []
        links: list[str] = []
        refused: list[tuple[str, int, int]] = []
        count = total = 0
        for item in sorted(path.rglob("*")):
            rel = item.relative_to(path).as_posix()
            if item.is_symlink():
                links.append(rel)
                continue
            if not item.is_file() or intake._safe_relpath(rel) is None:
                continue
            info = item.stat()
            count += 1
            too_large = (
                count > intake.MAX_FILES
                or info.st_size > intake.MAX_FILE_BYTES
                or total + info.st_size > intake.MAX_TOTAL_BYTES
            )
            if too_large:
                refused.append((rel, info.st_size, info.st_mtime_ns))
                continue
            total += info.st_size
            files.append((rel, info.st_mtime_ns, item.read_bytes()))
        return {"name": path.name, "kind": "folder", "files": files, "links": links,
                "refused": refused}  # fmt: skip
    size = path.stat().st_size
    if path.suffix == ".ipynb" and size > intake.MAX_NOTEBOOK_BYTES:
        return {"name": path.name, "kind": "refused", "size": size}  # refused by its size
    if size > MAX_SENT_BYTES:
        raise NotSent(
            f"{path.name} is {size / 2**20:.0f} MiB, more than the "
            f"{MAX_SENT_BYTES // 2**20} MiB a submission may have to be graded on Dask"
        )
    return {"name": path.name, "kind": "file", "data": path.read_bytes()}


def unpack(payload: dict[str, Any], folder: Path) -> Path:
    """Rebuild a packed submission under `folder`; its path, named as the original was."""
    name = _safe_name(payload["name"])
    target = folder / name
    if payload["kind"] == "file":
        target.write_bytes(payload["data"])
    elif payload["kind"] == "refused":
        _sparse(target, payload["size"])
    else:
        target.mkdir()
        for rel, mtime_ns, data in payload["files"]:
            dest = _inside(target, rel)
            dest.write_bytes(data)
            os.utime(dest, ns=(mtime_ns, mtime_ns))
        for rel, size, mtime_ns in payload["refused"]:
            dest = _inside(target, rel)
            _sparse(dest, size)
            os.utime(dest, ns=(mtime_ns, mtime_ns))
        for rel in payload["links"]:
            os.symlink("(a link in the submission)", _inside(target, rel))
    return target


def _safe_name(name: str) -> str:
    if not name or "/" in name or name in (".", ".."):
        raise OSError(f"not an entry name: {name!r}")
    return name


def _inside(root: Path, rel: str) -> Path:
    """root/rel for a relative path the parent made (no '..', not absolute), parents made."""
    parts = rel.split("/")
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise OSError(f"not a relative path: {rel!r}")
    dest = root.joinpath(*parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() or dest.is_symlink():
        raise OSError(f"{rel!r} is in the submission twice")
    return dest


def _sparse(path: Path, size: int) -> None:
    """A file of `size` bytes that takes no room: the intake refuses it by its size."""
    with open(path, "wb") as handle:
        handle.truncate(size)


# ---------------------------------------------------------------------- the batch
def grade_class(
    class_dir: Path,
    assignment: str,
    gradebook: Path,
    out: Path,
    scheduler: str,
    regrade: bool = False,
    course_path: str | None = None,
    times_csv: Path | None = None,
    progress: bool = True,
    students: list[str] | None = None,
) -> BatchSummary:
    """commands/batch.py's grade_class, with the submissions graded on the Dask cluster
    `scheduler` names (local:N, an address or a scheduler file)."""
    parse_scheduler(scheduler)  # a malformed option fails before anything is read or made
    _require_distributed()
    load_course(course_path)

    def on_dask(tasks: list[Task], book: Gradebook, summary: BatchSummary, course: Course) -> None:
        run(tasks, book, assignment, course, out, scheduler, regrade, summary, progress)

    return batch.grade_class(
        class_dir,
        assignment,
        gradebook,
        out,
        regrade=regrade,
        course_path=course_path,
        times_csv=times_csv,
        progress=progress,
        runner=on_dask,
        students=students,
    )


def check_workers(client: Any, assignment: str, version: str, summary: BatchSummary) -> int:
    """The scheduler must load this project and every connected worker grade with these
    checks (else BatchError, before anything is graded); warnings for workers without
    bubblewrap or with several threads. Returns the number of workers, each grading one
    submission at a time."""
    try:
        client.run_on_scheduler(scheduler_probe)
    except Exception as exc:  # the scheduler unpickles each task: it needs the project too
        raise BatchError(
            f"the Dask scheduler cannot load this project ({type(exc).__name__}: {exc}): "
            "install it where the scheduler runs as on the workers (docs/dask.md)"
        ) from None
    found = client.run(probe, assignment, on_error="return")
    problems = []
    for address, info in sorted(found.items()):
        if isinstance(info, OSError):  # it left (or died) while asked: it is asked again
            summary.warnings.append(f"Dask worker {address} left during the check: {info}")
            continue  # when it (or another) takes a task, which checks the version itself
        if isinstance(info, BaseException):
            problems.append(f"{address} cannot grade: {type(info).__name__}: {info}")
        elif info["version"] != version:
            problems.append(
                f"{address} ({info['host']}) has other checks (version {info['version']}, "
                f"here {version}): install the same version of the project there"
            )
        elif info["sandbox"] != "bwrap":
            summary.warnings.append(
                f"Dask worker {address} ({info['host']}) grades without bubblewrap "
                f"({info['sandbox_how']}): its results are marked unsandboxed"
            )
    if problems:
        raise BatchError(
            "Dask workers that cannot grade this batch (each needs bubblewrap and this "
            "project installed, docs/dask.md):\n  " + "\n  ".join(problems)
        )
    for address, threads in sorted(client.nthreads().items()):
        if threads > 1:
            summary.warnings.append(
                f"Dask worker {address} has {threads} threads but one sandbox slot: it grades "
                "one submission at a time (start workers with --nthreads 1 and more --nworkers)"
            )
    return len(found)


def run(
    tasks: list[Task],
    book: Gradebook,
    assignment: str,
    course: Course,
    out: Path,
    spec: str,
    regrade: bool,
    summary: BatchSummary,
    show_progress: bool,
) -> None:
    """Grade `tasks` on the Dask cluster `spec`, recording each result as it completes
    (commands/batch.py's _store: one transaction, then the files)."""
    from autograder.grading import suite

    if not tasks:  # nothing to grade: no cluster is started or asked
        kind, value = parse_scheduler(spec)
        summary.workers, summary.cluster = (value if kind == "local" else 0), spec
        with batch.recorded_run(book, assignment, summary.workers, regrade, summary):
            return
    version = suite.load(assignment).version
    with connect(spec) as client:
        summary.workers = check_workers(client, assignment, version, summary)
        summary.cluster = spec
        try:
            client.register_plugin(WorkerSlot())
        except Exception as exc:  # a worker's setup failed: no slot, no temporary folder
            raise BatchError(
                f"a Dask worker could not set up its sandbox slot: {type(exc).__name__}: {exc}"
            ) from None
        with batch.recorded_run(book, assignment, summary.workers, regrade, summary):
            _feed(client, tasks, book, course, out, version, summary, show_progress)


class _Watch:
    """The cluster's workers as the batch sees them: how many now, which left (a worker
    that dies and is restarted comes back at a new address), and since when none is there."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.seen = set(client.nthreads())
        self.gone: set[str] = set()
        self.count = len(self.seen)
        self.polled = time.monotonic()
        self.none_since: float | None = None

    def poll(self, every: float = 2.0) -> None:
        moment = time.monotonic()
        if moment - self.polled < every:
            return
        self.polled = moment
        now = set(self.client.nthreads())
        self.gone |= self.seen - now
        self.seen |= now
        self.count = len(now)
        self.none_since = None if now else (self.none_since or moment)

    def idle_for(self) -> float:
        return 0.0 if self.none_since is None else time.monotonic() - self.none_since


def _feed(
    client: Any,
    tasks: list[Task],
    book: Gradebook,
    course: Course,
    out: Path,
    version: str,
    summary: BatchSummary,
    show_progress: bool,
) -> None:
    """Keep two tasks per worker in flight; record each result as it completes (in the
    order they complete), each student's once."""
    pending = deque(tasks)
    in_flight: dict[str, tuple[Task, Any]] = {}  # future key -> its task and future
    completed: queue.SimpleQueue = queue.SimpleQueue()  # filled by Dask's event loop thread
    answered: set[str] = set()
    watch = _Watch(client)
    progress = batch.Progress(len(tasks), tasks[0].assignment) if show_progress else None
    done = 0
    try:
        while pending or in_flight:
            while pending and len(in_flight) < max(2, 2 * watch.count):
                task = pending.popleft()
                future = _submit(client, task, course, version, book, out, summary)
                if future is None:  # recorded as not graded, here
                    done += 1
                    continue
                in_flight[future.key] = (task, future)
                future.add_done_callback(completed.put)
            try:
                future = completed.get(timeout=1.0)
            except queue.Empty:
                future = None
            if future is not None and future.key in in_flight:
                task, _ = in_flight.pop(future.key)
                sid = task.entry.student_id
                if sid in answered:  # cannot happen (one task per student); a last guard
                    summary.warnings.append(f"{sid}: a second result was left out")
                else:
                    answered.add(sid)
                    done += _record(future, task, book, course, out, version, summary)
            watch.poll()
            if watch.idle_for() > NO_WORKER_SECONDS:
                raise BatchError(
                    f"no Dask worker was connected for {NO_WORKER_SECONDS} s; {done} of "
                    f"{len(tasks)} submissions were recorded: run the same command again "
                    "to grade the rest"
                )
            if progress is not None:
                progress.update(done, min(len(in_flight), watch.count), summary.failed)
    finally:
        if in_flight:  # stopped early: the cluster is told to drop what is left
            with contextlib.suppress(Exception):
                client.cancel([f for _, f in in_flight.values()], force=True)
        with contextlib.suppress(Exception):
            watch.poll(every=0.0)
        if watch.gone:
            summary.warnings.append(
                f"{len(watch.gone)} Dask worker(s) left during the batch (died or were "
                "stopped): what they were grading went to other workers (a submission that "
                "workers died on again and again is recorded as not graded)"
            )
        if progress is not None:
            progress.update(done, 0, summary.failed, final=True)


def _submit(
    client: Any,
    task: Task,
    course: Course,
    version: str,
    book: Gradebook,
    out: Path,
    summary: BatchSummary,
) -> Any:
    """Send one task; None when its submission could not be packed (then it is recorded
    as not graded here, with why)."""
    sid = task.entry.student_id
    try:
        payload = pack(task.entry.path)
    except (OSError, NotSent) as exc:
        reason = str(exc) if isinstance(exc, NotSent) else "it could not be read to be sent"
        batch._failed(book, course, task, f"{reason}\n{exc}", out, summary)
        return None
    key = f"effdl-grade-{sid}-{uuid.uuid4().hex[:12]}"
    return client.submit(
        grade_task,
        sid,
        task.assignment,
        course,
        version,
        payload,
        key=key,
        retries=TASK_RETRIES,
        pure=False,
    )


def _record(
    future: Any,
    task: Task,
    book: Gradebook,
    course: Course,
    out: Path,
    version: str,
    summary: BatchSummary,
) -> int:
    """Store what a completed task brought back; 1 when something was recorded. A task the
    cluster lost (cancelled) is not recorded: the next run grades it."""
    from distributed import KilledWorker

    sid = task.entry.student_id
    if future.status == "cancelled":
        summary.warnings.append(f"{sid}: the Dask cluster dropped its task: run again")
        return 0
    if future.status == "error":
        exc = future.exception()
        if isinstance(exc, KilledWorker):
            tries = getattr(exc, "allowed_failures", ALLOWED_FAILURES) + 1
            error = f"the grading worker died while grading it, {tries} times\n{exc}"
        elif isinstance(exc, WorkerTrouble):
            error = str(exc)
        else:
            error = f"the grading worker failed on it ({type(exc).__name__})\n{exc}"[:2000]
        batch._failed(book, course, task, error, out, summary)
        return 1
    try:
        answer = future.result()
        result = GradeResult.from_dict(answer["result"])
    except Exception as exc:  # a last guard: the worker sends what grade_submission returned
        error = f"its result could not be read back from the worker\n{type(exc).__name__}"
        batch._failed(book, course, task, error, out, summary)
        return 1
    if result.student_id != sid or result.check_version != version:
        error = (
            "the grading worker answered for another student or with other checks\n"
            f"{answer.get('worker')}: {result.student_id!r}, {result.check_version!r}"
        )
        batch._failed(book, course, task, error, out, summary)
        return 1
    batch._store(book, course, task, result, out, summary)
    return 1
