"""Batch grading of a class folder: parallel workers, resuming, regrading, and a kill in the
middle of a batch followed by a resume that ends with exactly one result per submission."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
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
    graded_class,
    solution_folder,
)

from autograder.commands import batch
from autograder.gradebook import Gradebook

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        **kwargs,
    )


def test_discover_names_students_and_leaves_out_the_rest(tmp_path: Path) -> None:
    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "bob").mkdir()
    (tmp_path / "carol.zip").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "bad id!.ipynb").write_text("{}")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "submission_metadata.json").write_text("{}")
    entries, warnings = batch.discover(tmp_path)
    assert [e.student_id for e in entries] == ["alice", "bob", "carol"]
    assert any("notes.txt" in w for w in warnings)
    assert any("bad id!" in w for w in warnings)
    # An entry named like another's (alice.ipynb beside alice/) leaves both out, not the class
    (tmp_path / "alice").mkdir()
    entries, warnings = batch.discover(tmp_path)
    assert [e.student_id for e in entries] == ["bob", "carol"]
    assert any("left out alice, alice.ipynb" in w and "'alice'" in w for w in warnings)
    with pytest.raises(batch.BatchError, match="does not exist"):
        batch.discover(tmp_path / "nowhere")


def test_shared_class_is_graded_with_one_current_row_each(tmp_path_factory) -> None:
    graded = graded_class(tmp_path_factory)
    summary = graded.summary
    assert summary.total == 5 and summary.graded == 4 and summary.failed == 1
    assert "dave" in summary.failures and "not a readable zip" in summary.failures["dave"]
    with Gradebook.open(graded.gradebook, create=False) as book:
        current = book.current(ASSIGNMENT)
        assert sorted(current) == ["alice", "bob", "carol", "dave", "erin"]
        assert current["alice"].score == current["alice"].max_score + 10  # extra credit
        assert current["bob"].score == 0
        assert current["alice"].sandboxed or os.environ.get("EFFDL_SANDBOX") == "off"
        assert current["dave"].status == "failed"
        lost = {
            r["check_id"]
            for r in book.check_results(ASSIGNMENT)
            if r["student_id"] == "carol" and r["status"] != "passed"
        }
        assert lost == {"a2.closed_form"}
    for sid in ("alice", "bob", "carol", "erin"):
        data = json.loads((graded.out / sid / "results.json").read_text())
        assert data["extra_data"]["effdl"]["student_id"] == sid
        assert (graded.out / sid / "feedback.html").is_file()
    dave = json.loads((graded.out / "dave" / "results.json").read_text())  # told why, at 0
    assert dave["score"] == 0 and dave["extra_data"]["effdl"]["status"] == "not graded"
    assert "not a readable zip" in (graded.out / "dave" / "feedback.html").read_text()


def test_rerun_skips_unchanged_regrades_changed_and_keeps_history(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    solution_folder(class_dir / "ann")
    blank_notebook(class_dir / "ben.ipynb")
    book_path, out = tmp_path / "gb.sqlite", tmp_path / "out"
    first = batch.grade_class(class_dir, ASSIGNMENT, book_path, out, workers=2, progress=False)
    assert (first.graded, first.skipped) == (2, 0)

    again = batch.grade_class(class_dir, ASSIGNMENT, book_path, out, workers=2, progress=False)
    assert (again.graded, again.skipped, again.failed) == (0, 2, 0)

    # ben's notebook changes: only ben is graded again; his first grade stays as history
    blank_notebook(class_dir / "ben.ipynb")
    nb = json.loads((class_dir / "ben.ipynb").read_text())
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["changed"]})
    (class_dir / "ben.ipynb").write_text(json.dumps(nb))
    (out / "ann" / "results.json").unlink()  # a lost file is rewritten from the gradebook
    third = batch.grade_class(class_dir, ASSIGNMENT, book_path, out, workers=1, progress=False)
    assert (third.graded, third.skipped, third.repaired) == (1, 1, 1)
    assert json.loads((out / "ann" / "results.json").read_text())["score"] == 77.5
    with Gradebook.open(book_path, create=False) as book:
        history = book.history(ASSIGNMENT, "ben")
        assert [r.is_current for r in history] == [False, True]
        assert history[1].reason == "the submission changed"
        assert history[0].content_hash != history[1].content_hash

    regrade = batch.grade_class(
        class_dir, ASSIGNMENT, book_path, out, workers=2, regrade=True, progress=False
    )
    assert (regrade.graded, regrade.skipped) == (2, 0)
    with Gradebook.open(book_path, create=False) as book:
        assert len(book.history(ASSIGNMENT, "ann")) == 2
        assert len(book.current(ASSIGNMENT)) == 2
        runs = book.conn.execute("SELECT graded, skipped, regrade FROM runs").fetchall()
        assert [tuple(r) for r in runs][-1] == (2, 0, 1)


def test_kill_in_the_middle_then_resume_gives_one_result_per_submission(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    students = [f"s{k:02d}" for k in range(8)]
    for k, sid in enumerate(students):
        if k % 4 == 0:
            solution_folder(class_dir / sid)
        else:
            blank_notebook(class_dir / f"{sid}.ipynb")
    book_path, out = tmp_path / "gb.sqlite", tmp_path / "out"
    args = ["grade", "--class", str(class_dir), "--assignment", ASSIGNMENT]
    args += ["--gradebook", str(book_path), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    graded_before_kill = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if not book_path.exists():
                continue
            try:
                with sqlite3.connect(f"file:{book_path}?mode=ro", uri=True, timeout=5) as conn:
                    graded_before_kill = conn.execute(
                        "SELECT count(*) FROM submissions WHERE status = 'graded'"
                    ).fetchone()[0]
            except sqlite3.OperationalError:
                continue  # the schema is being created
            if graded_before_kill >= 2:
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the parent, its workers and their sandboxes
        proc.wait()
    assert 2 <= graded_before_kill < len(students), "the batch was not killed in the middle"

    with Gradebook.open(book_path, create=False) as book:
        assert book.integrity() == "ok"
        kept = len(book.current(ASSIGNMENT))
    assert kept >= graded_before_kill

    resumed = _cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(students) - kept} graded, {kept} unchanged" in resumed.stdout

    with Gradebook.open(book_path, create=False) as book:
        assert book.integrity() == "ok"
        rows = book.history(ASSIGNMENT)
        assert sorted(r.student_id for r in rows) == students  # exactly one result each
        assert all(r.is_current and r.status == "graded" for r in rows)
        scores = {r.student_id: r.score for r in rows}
    for sid in students:
        data = json.loads((out / sid / "results.json").read_text())
        assert data["score"] == scores[sid]
        assert "</html>" in (out / sid / "feedback.html").read_text()
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, f"half-written files left: {leftovers}"


def _has_children(pid: int | None) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return False


def test_a_worker_that_dies_costs_only_its_submission(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    students = [f"w{k}" for k in range(4)]
    for sid in students:
        blank_notebook(class_dir / f"{sid}.ipynb")
    book_path, out = tmp_path / "gb.sqlite", tmp_path / "out"
    outcome: dict[str, object] = {}

    def run() -> None:
        outcome["summary"] = batch.grade_class(
            class_dir, ASSIGNMENT, book_path, out, workers=2, progress=False
        )

    thread = threading.Thread(target=run)
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
        for worker in multiprocessing.active_children():
            if _has_children(worker.pid):  # its sandbox runs: it is grading someone
                killed = worker.pid
                os.kill(killed, signal.SIGKILL)
                break
    thread.join(timeout=300)
    assert killed is not None and not thread.is_alive()
    summary = outcome["summary"]
    assert summary.graded + summary.failed == len(students) and summary.failed == 1
    assert all("worker died" in error for error in summary.failures.values())
    again = batch.grade_class(class_dir, ASSIGNMENT, book_path, out, workers=1, progress=False)
    assert again.graded == summary.failed and again.failed == 0
    with Gradebook.open(book_path, create=False) as book:
        current = book.current(ASSIGNMENT)
        assert sorted(current) == students
        assert all(row.status == "graded" for row in current.values())


def test_cli_class_mode_rules(tmp_path: Path) -> None:
    both = _cli("grade", "x.ipynb", "--class", str(tmp_path), "--assignment", ASSIGNMENT)
    assert both.returncode == 2 and "not both" in both.stderr
    no_book = _cli("grade", "--class", str(tmp_path), "--assignment", ASSIGNMENT)
    assert no_book.returncode == 2 and "--gradebook" in no_book.stderr
    stray = _cli("grade", "x.ipynb", "--assignment", ASSIGNMENT, "--workers", "2")
    assert stray.returncode == 2 and "go with --class" in stray.stderr
    nothing = _cli("grade", "--assignment", ASSIGNMENT)
    assert nothing.returncode == 2 and "PATH" in nothing.stderr
    missing = _cli(
        "grade", "--class", str(tmp_path / "none"), "--assignment", ASSIGNMENT,
        "--gradebook", str(tmp_path / "gb.sqlite"),
    )  # fmt: skip
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_one_batch_at_a_time_per_gradebook(tmp_path: Path) -> None:
    book_path = tmp_path / "gb.sqlite"
    held = batch.lock_gradebook(book_path)
    try:
        with pytest.raises(batch.BatchError, match="another batch"):
            batch.grade_class(tmp_path, ASSIGNMENT, book_path, tmp_path / "out", progress=False)
    finally:
        held.close()


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "ann"
    folder.mkdir(parents=True)
    (folder / ".results.json.123.tmp").write_text("{half")
    (folder / "results.json").write_text("{}")
    (folder / "notes.tmp").write_text("a user's file")
    assert batch.clean_stale_tmp(tmp_path / "out") == 1
    assert sorted(p.name for p in folder.iterdir()) == ["notes.tmp", "results.json"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_batch_keeps_whole_results_and_says_how_to_resume(
    tmp_path: Path, sig: int
) -> None:
    check_interrupted_batch(tmp_path, sig, ["--workers", "2"])


def test_a_regrade_that_changes_the_score_of_the_same_content_is_flagged(tmp_path: Path) -> None:
    """The same bytes graded by the same checks must give the same score; when a regrade
    does not (answers that depend on threads or timings the sandbox cannot fix), the staff
    are told, on the result and in the batch's warnings."""
    import dataclasses

    from autograder.course.settings import Course
    from autograder.grading.grade import grade_submission

    result = grade_submission(solution_folder(tmp_path / "sub"), ASSIGNMENT, Course(), "ann")
    with Gradebook.open(tmp_path / "gb.sqlite") as book:
        book.record(result, "x", None, "arrival", late=False, reason="new", out_dir=None)
        row = book.current(ASSIGNMENT)["ann"]
    assert batch.regrade_changed(row, result) == ""
    lower = dataclasses.replace(row, score=row.score - 3)
    message = batch.regrade_changed(lower, result)
    assert "same content and the same checks" in message and f"{row.score - 3:g}" in message
    other = dataclasses.replace(lower, content_hash="another")
    assert batch.regrade_changed(other, result) == ""  # changed content: a new grade is expected
    assert batch.regrade_changed(None, result) == ""


def test_grade_out_of_the_wrong_kind_or_inside_the_class_is_refused_before_grading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autograder.cli import main

    class_dir = tmp_path / "class"
    class_dir.mkdir()
    blank_notebook(class_dir / "ann.ipynb")
    taken = tmp_path / "taken"
    taken.write_text("mine")
    gradebook = tmp_path / "gb.sqlite"
    on_class = ["grade", "--class", str(class_dir), "--assignment", ASSIGNMENT]
    on_class += ["--gradebook", str(gradebook)]
    assert main(["grade", str(class_dir / "ann.ipynb"), "--assignment", ASSIGNMENT, "--out", str(taken)]) == 2  # fmt: skip
    assert f"--out {taken} is a file; expected a folder" in capsys.readouterr().err
    assert main([*on_class, "--out", str(taken)]) == 2
    assert f"--out {taken} is a file; expected a folder" in capsys.readouterr().err
    for inside in (class_dir, class_dir / "graded"):
        assert main([*on_class, "--out", str(inside)]) == 2
        assert "is the --class folder" in capsys.readouterr().err
    for workers in ("0", "-2"):
        with pytest.raises(SystemExit):
            main([*on_class, "--out", str(tmp_path / "out"), "--workers", workers])
        assert "--workers: " in capsys.readouterr().err
    assert not gradebook.exists()  # nothing was graded or recorded
    assert sorted(p.name for p in class_dir.iterdir()) == ["ann.ipynb"]
    assert taken.read_text() == "mine"


def test_with_student_only_those_of_the_class_are_graded_or_regraded(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    for sid in ("ann", "bjorn", "cid"):
        blank_notebook(class_dir / f"{sid}.ipynb")
    book_path, out = tmp_path / "gb.sqlite", tmp_path / "out"
    grade = {"progress": False}
    first = batch.grade_class(class_dir, ASSIGNMENT, book_path, out, students=["bjorn"], **grade)
    assert (first.total, first.graded) == (1, 1)
    rest = batch.grade_class(class_dir, ASSIGNMENT, book_path, out, **grade)
    assert (rest.graded, rest.skipped) == (2, 1)
    args = ["grade", "--class", str(class_dir), "--assignment", ASSIGNMENT]
    args += ["--gradebook", str(book_path), "--out", str(out), "--regrade"]
    one = _cli(*args, "--student", "bjorn")
    assert one.returncode == 0, one.stderr
    assert "1 submissions: 1 graded, 0 unchanged" in one.stdout
    with Gradebook.open(book_path, create=False) as book:
        counts = {sid: len(book.history(ASSIGNMENT, sid)) for sid in ("ann", "bjorn", "cid")}
    assert counts == {"ann": 1, "bjorn": 2, "cid": 1}
    nobody = _cli(*args, "--student", "zed")
    assert nobody.returncode == 2 and "for --student zed" in nobody.stderr
    both = _cli("grade", "x.ipynb", "--class", str(class_dir), "--assignment", ASSIGNMENT)
    assert both.returncode == 2 and "not both" in both.stderr and "--student" in both.stderr


def test_an_interrupted_regrade_names_who_is_left_and_that_advice_works(
    tmp_path: Path, capsys
) -> None:
    """A rerun skips what is unchanged, and after an interrupted --regrade that is everyone:
    the message must not promise that rerunning grades the others; its --student options do."""
    from autograder.course.settings import Course
    from autograder.grading.grade import grade_submission

    class_dir = tmp_path / "class"
    class_dir.mkdir()
    students = [f"r{k}" for k in range(4)]
    for sid in students:
        blank_notebook(class_dir / f"{sid}.ipynb")
    book_path, out = tmp_path / "gb.sqlite", tmp_path / "out"
    assert batch.grade_class(class_dir, ASSIGNMENT, book_path, out, progress=False).graded == 4

    def two_then_ctrl_c(tasks, book, summary, course=None) -> None:
        course = course or Course()
        for task in tasks[:2]:
            sid = task.entry.student_id
            result = grade_submission(task.entry.path, ASSIGNMENT, course, student_id=sid)
            batch._store(book, course, task, result, out, summary)
        raise KeyboardInterrupt

    capsys.readouterr()
    with pytest.raises(KeyboardInterrupt):
        batch.grade_class(
            class_dir, ASSIGNMENT, book_path, out, regrade=True, progress=False,
            runner=two_then_ctrl_c,
        )  # fmt: skip
    told = capsys.readouterr().err
    assert "2 of the 4 submissions to grade were recorded" in told
    assert "Run the same command again to grade" not in told
    options = told.split("add to the command: ")[1].split()
    assert options[0::2] == ["--student", "--student"]
    left = options[1::2]
    assert sorted(left) == students[2:]
    resumed = batch.grade_class(
        class_dir, ASSIGNMENT, book_path, out, regrade=True, students=left, progress=False
    )
    assert (resumed.total, resumed.graded) == (2, 2)
    with Gradebook.open(book_path, create=False) as book:
        assert all(len(book.history(ASSIGNMENT, sid)) == 2 for sid in students)
