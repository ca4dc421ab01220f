"""The SQLite gradebook: schema and migrations, transactions, history, and result records."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from autograder.gradebook import Gradebook, GradebookError
from autograder.gradebook import store as gradebook
from autograder.gradebook.schema import MIGRATIONS
from autograder.grading.result import NOT_GRADED, CheckResult, GradeResult
from autograder.grading.score import ManualScore, score_of


def _check(cid: str, points: float, status: str, fraction: float, message: str = "", extra=False):
    return CheckResult(
        cid, cid.upper()[:2], f"title {cid}", "fn", extra, points, status, fraction, message, 0.01
    )


def _result(student: str = "ann", fraction: float = 1.0, content: str = "h1") -> GradeResult:
    checks = [
        _check("a1.x", 4, "passed", 1.0),
        _check(
            "a2.y",
            2,
            "failed" if fraction == 0 else "partial",
            fraction,
            "wrong\n  Likely cause: summed",
        ),
        _check("a3.z", 1, "passed", 1.0, extra=True),
    ]
    return GradeResult(
        student_id=student,
        assignment="distributed-sparse",
        checks=checks,
        variant="canonical",
        variant_claimed=None,
        sandboxed=True,
        check_version="v1",
        content_hash=content,
        notes=["a note"],
        timings={"stage": 0.01, "sandbox": 1.0, "checks": 0.2, "total": 1.3},
        plots=[
            {
                "problem": "A2",
                "title": "loss",
                "series": {"you": np.array([1.0, 0.5, np.nan])},
                "reference": {"ref": np.array([1.0, 0.25, 0.1])},
                "log_y": True,
            }
        ],
        stdout="printed",
    )


def _store(book: Gradebook, result: GradeResult, reason: str = "new") -> int:
    return book.record(
        result,
        source_path="/class/ann",
        submitted_at="2026-11-06T23:00:00+00:00",
        submitted_source="mtime",
        late=False,
        reason=reason,
        out_dir=None,
    )


def test_new_gradebook_has_the_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "gb.sqlite"
    with Gradebook.open(path) as book:
        assert book.schema_version == gradebook.SCHEMA_VERSION
        assert book.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert book.integrity() == "ok"
        tables = {r[0] for r in book.conn.execute("SELECT name FROM sqlite_master")}
        assert {"students", "submissions", "check_results", "manual_scores", "runs"} <= tables
    with Gradebook.open(path, create=False) as book:  # reopening changes nothing
        assert book.schema_version == gradebook.SCHEMA_VERSION


def test_bad_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(GradebookError, match="no gradebook"):
        Gradebook.open(tmp_path / "missing.sqlite", create=False)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(GradebookError, match="not an SQLite database"):
        Gradebook.open(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE mine (x)")
    with pytest.raises(GradebookError, match="not an effdl gradebook"):
        Gradebook.open(other)
    assert sqlite3.connect(other).execute("SELECT count(*) FROM mine").fetchone()[0] == 0
    newer = tmp_path / "newer.sqlite"
    Gradebook.open(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {gradebook.SCHEMA_VERSION + 1}")
    with pytest.raises(GradebookError, match="newer than this effdl"):
        Gradebook.open(newer)
    (tmp_path / "folder.sqlite").mkdir()
    with pytest.raises(GradebookError, match="not a file"):
        Gradebook.open(tmp_path / "folder.sqlite")


def test_migrations_run_in_order_on_an_older_gradebook(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "gb.sqlite"
    with Gradebook.open(path) as book:
        _store(book, _result())
    extra = ("a later change", ["ALTER TABLE students ADD COLUMN nickname TEXT"])
    monkeypatch.setattr(gradebook, "MIGRATIONS", [*gradebook.MIGRATIONS, extra])
    monkeypatch.setattr(gradebook, "SCHEMA_VERSION", len(gradebook.MIGRATIONS) + 1)
    with Gradebook.open(path, create=False) as book:
        assert book.schema_version == gradebook.SCHEMA_VERSION
        columns = [r[1] for r in book.conn.execute("PRAGMA table_info(students)")]
        assert "nickname" in columns
        assert len(book.current("distributed-sparse")) == 1  # the data survived


def test_a_failed_migration_leaves_the_old_schema(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "gb.sqlite"
    Gradebook.open(path).close()
    broken = ("broken", ["ALTER TABLE students ADD COLUMN a TEXT", "THIS IS NOT SQL"])
    monkeypatch.setattr(gradebook, "MIGRATIONS", [*gradebook.MIGRATIONS, broken])
    monkeypatch.setattr(gradebook, "SCHEMA_VERSION", len(gradebook.MIGRATIONS) + 1)
    with pytest.raises(sqlite3.OperationalError):
        Gradebook.open(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert "a" not in [r[1] for r in conn.execute("PRAGMA table_info(students)")]


def test_regrades_keep_history_with_one_current_row(tmp_path: Path) -> None:
    with Gradebook.open(tmp_path / "gb.sqlite") as book:
        first = _store(book, _result(fraction=0.0, content="h1"))
        second = _store(book, _result(fraction=0.5, content="h2"), reason="the submission changed")
        _store(book, _result(student="ben"))
        current = book.current("distributed-sparse")
        assert sorted(current) == ["ann", "ben"]
        assert current["ann"].id == second and current["ann"].score == 6.0
        history = book.history("distributed-sparse", "ann")
        assert [r.id for r in history] == [first, second]
        assert [r.is_current for r in history] == [False, True]
        checks = [r for r in book.check_results("distributed-sparse") if r["student_id"] == "ann"]
        assert {r["check_id"]: r["points"] for r in checks} == {"a1.x": 4, "a2.y": 1, "a3.z": 1}
        with pytest.raises(sqlite3.IntegrityError):  # the schema itself forbids two current
            book.conn.execute("UPDATE submissions SET is_current = 1 WHERE id = ?", (first,))


def test_a_transaction_is_all_or_nothing(tmp_path: Path) -> None:
    with Gradebook.open(tmp_path / "gb.sqlite") as book:
        result = _result()
        result.checks.append(result.checks[0])  # duplicate check id
        with pytest.raises(sqlite3.IntegrityError):
            book.record(result, "/x", None, None, False, "new", None)
        assert book.current("distributed-sparse") == {}
        assert book.conn.execute("SELECT count(*) FROM students").fetchone()[0] == 0


def test_failed_submission_and_readers_during_writes(tmp_path: Path) -> None:
    path = tmp_path / "gb.sqlite"
    with Gradebook.open(path) as book:
        failed = GradeResult("cid", "distributed-sparse", status=NOT_GRADED, error="not a zip")
        book.record(failed, "/x.zip", None, None, False, "new", None)
        reader = Gradebook.open(path, create=False)
        book.conn.execute("BEGIN IMMEDIATE")
        book.conn.execute("UPDATE submissions SET error = 'changing'")
        assert reader.current("distributed-sparse")["cid"].error == "not a zip"  # WAL reader
        book.conn.execute("ROLLBACK")
        reader.close()
        row = book.current("distributed-sparse")["cid"]
        assert (row.status, row.score, row.error) == ("failed", None, "not a zip")


def test_result_records_round_trip(tmp_path: Path) -> None:
    original = _result(fraction=0.5)
    with Gradebook.open(tmp_path / "gb.sqlite") as book:
        sub_id = _store(book, original)
        again = book.result(sub_id)
    assert score_of(again) == score_of(original)
    assert [c.id for c in again.checks] == ["a1.x", "a2.y", "a3.z"]
    assert again.checks[1].message == original.checks[1].message
    assert again.checks[2].extra_credit
    np.testing.assert_array_equal(again.plots[0]["series"]["you"], [1.0, 0.5, np.nan])
    assert again.notes == ["a note"] and again.stdout == "printed"
    assert json.dumps(again.to_dict()) == json.dumps(original.to_dict())  # NaN included


def test_manual_scores_supersede_and_keep_history(tmp_path: Path) -> None:
    with Gradebook.open(tmp_path / "gb.sqlite") as book:
        first = [ManualScore("ann", "A1", 8, 10, "ok"), ManualScore("ann", "A2.1", 2, 2, "")]
        assert book.set_manual_scores("distributed-sparse", first, "a.csv") == (2, 0, 0)
        second = [ManualScore("ann", "A1", 9, 10, "regraded"), ManualScore("ann", "A2.1", 2, 2, "")]
        assert book.set_manual_scores("distributed-sparse", second, "b.csv") == (0, 1, 1)
        current = book.manual_scores("distributed-sparse")
        assert current[("ann", "A1")].points == 9 and current[("ann", "A1")].comment == "regraded"
        all_rows = book.conn.execute(
            "SELECT points, is_current FROM manual_scores WHERE question = 'A1' ORDER BY id"
        ).fetchall()
        assert [tuple(r) for r in all_rows] == [(8.0, 0), (9.0, 1)]


def test_a_first_version_gradebook_gains_the_roster_columns_and_keeps_its_data(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0][1]:  # a gradebook made by the first schema
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {gradebook.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO students VALUES ('ann', '2026-11-01T00:00:00+00:00')")
    conn.commit()
    conn.close()
    with Gradebook.open(path) as book:
        assert book.schema_version == len(MIGRATIONS) >= 2
        assert book.people()["ann"].name == ""
        from autograder.course.students import Student

        assert book.set_people([Student("ann", "Ann Lee", "ann@x.edu"), Student("bo")]) == (1, 1)
        assert book.people()["ann"] == Student("ann", "Ann Lee", "ann@x.edu")
