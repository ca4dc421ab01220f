"""Batch grading on Dask (`effdl grade --class ... --dask local:2`): the same grades as the
built-in pool, a worker killed mid-batch loses and duplicates nothing, an interrupted batch
keeps whole results and resumes, and a submission travels to a worker byte for byte."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from classkit import (
    ASSIGNMENT,
    blank_notebook,
    check_interrupted_batch,
    flawed,
    recorded_count,
    solution_folder,
    zip_folder,
)

from autograder.commands import batch, dask_batch
from autograder.gradebook import Gradebook
from autograder.grading import intake

pytest.importorskip(
    "distributed", reason="the [dask] extra is not installed (pip install -e '.[dask]')"
)

ROOT = Path(__file__).resolve().parents[1]


def _odd_folder(dest: Path) -> Path:
    """A solution folder with what the intake refuses: a link, and a file too large (sparse:
    it takes no room, the intake refuses it by its size), and a notebook copy in a subfolder
    whose age decides nothing since it has fewer functions written."""
    solution_folder(dest)
    (dest / "data.csv").symlink_to("/etc/hostname")
    with open(dest / "weights.bin", "wb") as handle:
        handle.truncate(intake.MAX_FILE_BYTES + 1)
    (dest / "old").mkdir()
    blank_notebook(dest / "old" / f"{ASSIGNMENT}.ipynb")
    return dest


def _class(folder: Path) -> list[str]:
    """Six students: a solution, a blank notebook, two flawed ones (a zip and a folder), a
    broken zip, and a solution with a link and an over-large file."""
    folder.mkdir(parents=True)
    solution_folder(folder / "alice")
    blank_notebook(folder / "bob.ipynb")
    zip_folder(flawed("closed_form_y_times_inverse", folder / "carol-src"), folder / "carol.zip")
    flawed("server_step_sums", folder / "dave")
    (folder / "erin.zip").write_bytes(b"this is not a zip file")
    _odd_folder(folder / "frank")
    return ["alice", "bob", "carol", "dave", "erin", "frank"]


def _grades(book_path: Path) -> dict[str, dict]:
    """Each current result as stored, without its timings (the one thing that may differ)."""
    with Gradebook.open(book_path, create=False) as book:
        grades = {}
        for sid, row in book.current(ASSIGNMENT).items():
            data = book.result(row.id).to_dict()
            data.pop("timings")
            for check in data["checks"]:
                check.pop("seconds", None)
            grades[sid] = {"row": (row.status, row.score, row.content_hash), "result": data}
        return grades


def test_dask_grades_equal_the_built_in_pools(tmp_path: Path) -> None:
    students = _class(tmp_path / "class")
    pool = batch.grade_class(
        tmp_path / "class", ASSIGNMENT, tmp_path / "pool.sqlite", tmp_path / "pool", workers=2,
        progress=False,
    )  # fmt: skip
    on_dask = dask_batch.grade_class(
        tmp_path / "class", ASSIGNMENT, tmp_path / "dask.sqlite", tmp_path / "dask", "local:2",
        progress=False,
    )  # fmt: skip
    assert (pool.graded, pool.failed) == (on_dask.graded, on_dask.failed) == (5, 1)
    assert on_dask.workers == 2 and on_dask.cluster == "local:2"
    assert len(on_dask.writer_seconds) == 6
    expected, got = _grades(tmp_path / "pool.sqlite"), _grades(tmp_path / "dask.sqlite")
    assert sorted(got) == students
    for sid in students:
        assert got[sid] == expected[sid], sid
    # what the test is about is there: scores that differ, the intake's refusals as notes
    scores = {sid: got[sid]["row"][1] for sid in students}
    assert scores["alice"] == scores["frank"] > scores["carol"] > scores["bob"] == 0
    assert scores["erin"] is None and "not a readable zip" in got["erin"]["result"]["error"]
    notes = " ".join(got["frank"]["result"]["notes"])
    assert "refused data.csv: symbolic links" in notes and "refused weights.bin" in notes
    for sid in students:  # the files were written, from the stored result
        data = json.loads((tmp_path / "dask" / sid / "results.json").read_text())
        assert data["score"] == (scores[sid] or 0)
        assert "</html>" in (tmp_path / "dask" / sid / "feedback.html").read_text()


def _has_children(pid: int | None) -> bool:
    """Whether a process has children (a Dask worker starts its sandbox from a thread of
    its own: each thread's children are listed apart)."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if (task / "children").read_text().split():
                return True
        except OSError:
            continue
    return False


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    students = [f"k{k}" for k in range(6)]
    for k, sid in enumerate(students):
        if k % 3 == 0:
            solution_folder(class_dir / sid)
        else:
            blank_notebook(class_dir / f"{sid}.ipynb")
    book_path, out = tmp_path / "gb.sqlite", tmp_path / "out"
    outcome: dict[str, object] = {}

    def grade() -> None:
        outcome["summary"] = dask_batch.grade_class(
            class_dir, ASSIGNMENT, book_path, out, "local:2", progress=False
        )

    before = {p.pid for p in multiprocessing.active_children()}
    thread = threading.Thread(target=grade)
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
        if recorded_count(book_path) < 1:  # the workers are still starting and being checked
            continue
        for worker in multiprocessing.active_children():  # the LocalCluster's workers
            if worker.pid not in before and _has_children(worker.pid):  # it grades someone
                killed = worker.pid
                os.kill(killed, signal.SIGKILL)
                break
    thread.join(timeout=300)
    assert killed is not None, "no worker was caught grading"
    assert not thread.is_alive()
    summary = outcome["summary"]
    # the killed worker's submission went to another worker: every student graded, once
    assert (summary.graded, summary.failed, summary.total) == (len(students), 0, len(students))
    assert any("1 Dask worker(s) left during the batch" in w for w in summary.warnings)
    with Gradebook.open(book_path, create=False) as book:
        assert book.integrity() == "ok"
        rows = book.history(ASSIGNMENT)
        assert sorted(r.student_id for r in rows) == students
        assert all(r.is_current and r.status == "graded" for r in rows)
        run = book.conn.execute("SELECT graded, skipped, failed, workers FROM runs").fetchall()
        assert [tuple(r) for r in run] == [(len(students), 0, 0, 2)]
    again = dask_batch.grade_class(class_dir, ASSIGNMENT, book_path, out, "local:2", progress=False)
    assert (again.graded, again.skipped, again.failed) == (0, len(students), 0)
    with Gradebook.open(book_path, create=False) as book:
        assert len(book.history(ASSIGNMENT)) == len(students)


def test_sigterm_keeps_whole_results_and_says_how_to_resume(tmp_path: Path) -> None:
    check_interrupted_batch(tmp_path, signal.SIGTERM, ["--dask", "local:2"])


def test_a_submission_travels_to_a_worker_as_it_is(tmp_path: Path) -> None:
    """pack/unpack rebuild what the intake reads: the same staged files, hash and notes."""
    entries = [
        _odd_folder(tmp_path / "frank"),
        blank_notebook(tmp_path / "bob.ipynb"),
        zip_folder(solution_folder(tmp_path / "carol-src"), tmp_path / "carol.zip"),
    ]
    big = tmp_path / "huge.ipynb"  # refused by its size, and sent as its size only
    with open(big, "wb") as handle:
        handle.truncate(intake.MAX_NOTEBOOK_BYTES + 1)
    for k, path in enumerate(entries):
        where = tmp_path / f"worker{k}"
        where.mkdir()
        rebuilt = dask_batch.unpack(dask_batch.pack(path), where)
        assert rebuilt.name == path.name
        original = intake.load_submission(path, ASSIGNMENT, tmp_path / f"a{k}", "x")
        copy = intake.load_submission(rebuilt, ASSIGNMENT, tmp_path / f"b{k}", "x")
        assert copy.content_hash == original.content_hash
        assert (copy.notes, copy.notebook_name, copy.cells) == (
            original.notes, original.notebook_name, original.cells,
        )  # fmt: skip
    payload = dask_batch.pack(entries[0])
    assert sum(len(data) for _, _, data in payload["files"]) < intake.MAX_TOTAL_BYTES
    assert [rel for rel, _, _ in payload["refused"]] == ["weights.bin"]
    sent = dask_batch.pack(big)
    assert sent == {"name": "huge.ipynb", "kind": "refused", "size": big.stat().st_size}
    (tmp_path / "w-huge").mkdir()
    rebuilt = dask_batch.unpack(sent, tmp_path / "w-huge")
    with pytest.raises(intake.SubmissionError, match="larger than"):
        intake.load_submission(rebuilt, ASSIGNMENT, tmp_path / "c", "x")


def test_dask_option_rules(tmp_path: Path) -> None:
    for spec in ("local:0", "local:x", "local", ""):
        with pytest.raises(batch.BatchError, match="local:N|needs a scheduler"):
            dask_batch.parse_scheduler(spec)
    assert dask_batch.parse_scheduler("local:3") == ("local", 3)
    assert dask_batch.parse_scheduler("tcp://10.0.0.5:8786") == ("address", "tcp://10.0.0.5:8786")
    with pytest.raises(batch.BatchError, match="no such scheduler file"):
        dask_batch.parse_scheduler(str(tmp_path / "scheduler.json"))
    cli = [sys.executable, "-m", "autograder.cli", "grade", "--assignment", ASSIGNMENT]
    both = subprocess.run(
        cli + ["--class", str(tmp_path), "--gradebook", str(tmp_path / "gb.sqlite"),
               "--workers", "2", "--dask", "local:2"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr
    stray = subprocess.run(
        cli + ["x.ipynb", "--dask", "local:2"], capture_output=True, text=True, cwd=ROOT,
        timeout=120,
    )  # fmt: skip
    assert stray.returncode == 2 and "go with --class" in stray.stderr
    bad = subprocess.run(
        cli + ["--class", str(tmp_path), "--gradebook", str(tmp_path / "gb.sqlite"),
               "--dask", "local:0"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "local:N" in bad.stderr
    assert not (tmp_path / "gb.sqlite").exists()  # refused before anything was made


class _Done:
    """A completed Dask future as _record sees one."""

    def __init__(self, status: str, value: object) -> None:
        self.status, self.value = status, value

    def exception(self) -> object:
        return self.value

    def result(self) -> object:
        return self.value


def test_what_comes_back_wrong_is_recorded_as_not_graded_or_not_at_all(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from distributed import KilledWorker

    from autograder.course.settings import Course
    from autograder.grading import suite
    from autograder.grading.grade import not_graded

    class_dir = tmp_path / "class"
    class_dir.mkdir()
    for sid in ("ann", "ben", "cid", "dan"):
        blank_notebook(class_dir / f"{sid}.ipynb")
    course, version = Course(), suite.load(ASSIGNMENT).version
    entries, _ = batch.discover(class_dir)
    summary = batch.BatchSummary(total=4)
    with Gradebook.open(tmp_path / "gb.sqlite") as book:
        tasks, _, _ = batch.plan(entries, book, ASSIGNMENT, course, False, None, class_dir)
        ann, ben, cid, dan = tasks
        worker = SimpleNamespace(address="tcp://10.0.0.9:4000")
        died = _Done("error", KilledWorker("effdl-grade-ann-1", worker, 2))
        trouble = _Done("error", dask_batch.WorkerTrouble("the grading worker has no slot\nx"))
        other = not_graded(ASSIGNMENT, "someone-else", course, "x").to_dict()
        wrong = _Done("finished", {"result": other, "worker": "tcp://10.0.0.9:4000"})
        out = tmp_path / "out"
        assert dask_batch._record(died, ann, book, course, out, version, summary) == 1
        assert dask_batch._record(trouble, ben, book, course, out, version, summary) == 1
        assert dask_batch._record(wrong, cid, book, course, out, version, summary) == 1
        assert dask_batch._record(_Done("cancelled", None), dan, book, course, out, version,
                                  summary) == 0  # fmt: skip
        current = book.current(ASSIGNMENT)
        assert sorted(current) == ["ann", "ben", "cid"]  # dan's task was lost: graded next run
        assert all(row.status == "failed" for row in current.values())
        assert current["ann"].error.startswith("the grading worker died while grading it, 3 times")
        assert current["ben"].error.startswith("the grading worker has no slot")
        assert "another student" in current["cid"].error
        staff = book.result(current["ann"].id).staff_notes
        assert any("10.0.0.9" in note for note in staff)  # where it died: for the staff only
        assert "10.0.0.9" not in (out / "ann" / "feedback.html").read_text()
    assert summary.failed == 3 and any("dan" in w for w in summary.warnings)
