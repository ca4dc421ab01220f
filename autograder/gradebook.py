"""The class gradebook: one SQLite file holding every grade of every submission.

Tables (schema version in `PRAGMA user_version`, created and migrated by MIGRATIONS):
  students       one row per student id seen
  submissions    one row per grading of a submission: content hash, check version, submitted
                 time and its source, late flag, score, timings, the full result as JSON (so
                 feedback pages can be rendered again), and `is_current` (exactly one current
                 row per student and assignment; older rows are the regrade history)
  check_results  one row per check of a submission: points, max, status, message, seconds
  manual_scores  hand-graded scores with comments; an import supersedes the previous score
                 of a question (`is_current`), it never deletes it
  runs           one row per batch run: when, how many graded, skipped and failed

The file is in WAL mode, every change is one transaction, and only one process writes: batch
grading sends its workers' results to the parent, which records them. Readers (report,
export) may open it while a batch runs.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder import suite
from autograder.checking import CheckSpec
from autograder.grade import GradeResult

APPLICATION_ID = 0x45464442  # "EFDB": marks the file as an effdl gradebook

# Each entry: (description, statements). Entry k takes a gradebook from version k to k + 1.
MIGRATIONS: list[tuple[str, list[str]]] = [
    (
        "students, submissions, check results, manual scores, runs",
        [
            """CREATE TABLE students (
                student_id TEXT PRIMARY KEY,
                added_at TEXT NOT NULL
            )""",
            """CREATE TABLE submissions (
                id INTEGER PRIMARY KEY,
                student_id TEXT NOT NULL REFERENCES students(student_id),
                assignment TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('graded', 'failed')),
                is_current INTEGER NOT NULL DEFAULT 0 CHECK (is_current IN (0, 1)),
                reason TEXT NOT NULL DEFAULT '',
                source_path TEXT NOT NULL,
                content_hash TEXT,
                check_version TEXT,
                submitted_at TEXT,
                submitted_source TEXT,
                late INTEGER NOT NULL DEFAULT 0,
                graded_at TEXT NOT NULL,
                score REAL,
                max_score REAL,
                variant TEXT,
                variant_mismatch INTEGER,
                sandboxed INTEGER,
                seconds_stage REAL,
                seconds_sandbox REAL,
                seconds_checks REAL,
                seconds_total REAL,
                error TEXT,
                out_dir TEXT,
                result_json TEXT
            )""",
            """CREATE UNIQUE INDEX submissions_one_current
                ON submissions(student_id, assignment) WHERE is_current = 1""",
            "CREATE INDEX submissions_by_assignment ON submissions(assignment, student_id)",
            """CREATE TABLE check_results (
                submission_id INTEGER NOT NULL REFERENCES submissions(id),
                check_id TEXT NOT NULL,
                problem TEXT NOT NULL,
                title TEXT NOT NULL,
                function TEXT NOT NULL,
                points REAL NOT NULL,
                max_points REAL NOT NULL,
                extra_credit INTEGER NOT NULL,
                status TEXT NOT NULL,
                message TEXT NOT NULL,
                seconds REAL,
                PRIMARY KEY (submission_id, check_id)
            )""",
            """CREATE TABLE manual_scores (
                id INTEGER PRIMARY KEY,
                student_id TEXT NOT NULL,
                assignment TEXT NOT NULL,
                question TEXT NOT NULL,
                points REAL NOT NULL,
                max_points REAL NOT NULL,
                comment TEXT NOT NULL DEFAULT '',
                source TEXT NOT NULL DEFAULT '',
                imported_at TEXT NOT NULL,
                is_current INTEGER NOT NULL DEFAULT 1 CHECK (is_current IN (0, 1))
            )""",
            """CREATE UNIQUE INDEX manual_one_current
                ON manual_scores(student_id, assignment, question) WHERE is_current = 1""",
            """CREATE TABLE runs (
                id INTEGER PRIMARY KEY,
                assignment TEXT NOT NULL,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                workers INTEGER NOT NULL,
                graded INTEGER NOT NULL DEFAULT 0,
                skipped INTEGER NOT NULL DEFAULT 0,
                failed INTEGER NOT NULL DEFAULT 0,
                regrade INTEGER NOT NULL DEFAULT 0
            )""",
        ],
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)


class GradebookError(ValueError):
    """A gradebook file that cannot be used, or a change it refuses."""


def now() -> str:
    """The current time, UTC, ISO 8601 with seconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SubmissionRow:
    """One row of `submissions`, as stored."""

    id: int
    student_id: str
    assignment: str
    status: str
    is_current: bool
    reason: str
    source_path: str
    content_hash: str | None
    check_version: str | None
    submitted_at: str | None
    submitted_source: str | None
    late: bool
    graded_at: str
    score: float | None
    max_score: float | None
    variant: str | None
    variant_mismatch: bool
    sandboxed: bool
    seconds_stage: float | None
    seconds_sandbox: float | None
    seconds_checks: float | None
    seconds_total: float | None
    error: str | None
    out_dir: str | None

    @property
    def submitted_time(self) -> dt.datetime | None:
        return dt.datetime.fromisoformat(self.submitted_at) if self.submitted_at else None


_ROW_FIELDS = [f for f in SubmissionRow.__dataclass_fields__]


@dataclass(frozen=True)
class ManualScore:
    """A current hand-graded score of one question of one student."""

    student_id: str
    question: str
    points: float
    max_points: float
    comment: str


class Gradebook:
    """An open gradebook file. Use `with Gradebook.open(path) as gb:`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: Path, create: bool = True) -> Gradebook:
        """Open (creating and migrating when allowed) the gradebook at `path`."""
        path = Path(path)
        if not path.exists() and not create:
            raise GradebookError(f"no gradebook at {path}: grade a class into it first")
        if path.exists() and not path.is_file():
            raise GradebookError(f"{path} is not a file")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise GradebookError(f"{path} is not a gradebook (not an SQLite database)") from exc
        if app_id != APPLICATION_ID and tables > 0:
            conn.close()
            raise GradebookError(f"{path} is an SQLite database, but not an effdl gradebook")
        book = cls(conn, path)
        try:
            book._migrate(allowed=create or app_id == APPLICATION_ID)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return book

    def _migrate(self, allowed: bool) -> None:
        """Apply the pending migrations in one transaction (refuse a newer schema)."""
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise GradebookError(
                f"{self.path} has schema version {version}, newer than this effdl knows "
                f"({SCHEMA_VERSION}): update effdl"
            )
        if version == SCHEMA_VERSION:
            return
        if not allowed:
            raise GradebookError(f"{self.path} is empty: grade a class into it first")
        with self.transaction():
            current = self.conn.execute("PRAGMA user_version").fetchone()[0]
            for _description, statements in MIGRATIONS[current:]:
                for statement in statements:
                    self.conn.execute(statement)
            self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (also KeyboardInterrupt)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ submissions
    def record_graded(
        self,
        record: dict[str, Any],
        source_path: str,
        submitted_at: str | None,
        submitted_source: str | None,
        late: bool,
        reason: str,
        out_dir: str | None,
    ) -> int:
        """Store one graded submission (a `result_record`) as the student's current grade."""
        result = record
        timings = result.get("timings", {})
        with self.transaction() as conn:
            sub_id = self._insert_submission(
                conn,
                student_id=result["student_id"],
                assignment=result["assignment"],
                status="graded",
                reason=reason,
                source_path=source_path,
                content_hash=result["content_hash"],
                check_version=result["check_version"],
                submitted_at=submitted_at,
                submitted_source=submitted_source,
                late=int(late),
                score=result["score"],
                max_score=result["max_score"],
                variant=result["variant"],
                variant_mismatch=int(result["variant_mismatch"]),
                sandboxed=int(result["sandboxed"]),
                seconds_stage=timings.get("stage"),
                seconds_sandbox=timings.get("sandbox"),
                seconds_checks=timings.get("checks"),
                seconds_total=timings.get("total"),
                error=None,
                out_dir=out_dir,
                result_json=json.dumps(result),
            )
            conn.executemany(
                "INSERT INTO check_results (submission_id, check_id, problem, title, function, "
                "points, max_points, extra_credit, status, message, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        sub_id,
                        o["id"],
                        o["problem"],
                        o["title"],
                        o["function"],
                        o["points"],
                        o["max_points"],
                        int(o["extra_credit"]),
                        o["status"],
                        o["message"],
                        o["seconds"],
                    )
                    for o in result["outcomes"]
                ],
            )
        return sub_id

    def record_failed(
        self,
        student_id: str,
        assignment: str,
        source_path: str,
        error: str,
        submitted_at: str | None,
        submitted_source: str | None,
        late: bool,
        reason: str,
        check_version: str | None,
    ) -> int:
        """Store a submission that could not be graded (its error) as the current row."""
        with self.transaction() as conn:
            return self._insert_submission(
                conn,
                student_id=student_id,
                assignment=assignment,
                status="failed",
                reason=reason,
                source_path=source_path,
                check_version=check_version,
                submitted_at=submitted_at,
                submitted_source=submitted_source,
                late=int(late),
                error=error[:20000],
            )

    def _insert_submission(self, conn: sqlite3.Connection, **values: Any) -> int:
        student, assignment = values["student_id"], values["assignment"]
        conn.execute(
            "INSERT OR IGNORE INTO students (student_id, added_at) VALUES (?, ?)", (student, now())
        )
        conn.execute(
            "UPDATE submissions SET is_current = 0 "
            "WHERE student_id = ? AND assignment = ? AND is_current = 1",
            (student, assignment),
        )
        values = {**values, "is_current": 1, "graded_at": now()}
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cursor = conn.execute(
            f"INSERT INTO submissions ({names}) VALUES ({marks})", list(values.values())
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _rows(self, where: str, params: tuple[Any, ...]) -> list[SubmissionRow]:
        columns = ", ".join(_ROW_FIELDS)
        rows = self.conn.execute(
            f"SELECT {columns} FROM submissions WHERE {where} ORDER BY student_id, id", params
        ).fetchall()
        out = []
        for row in rows:
            values = {k: row[k] for k in _ROW_FIELDS}
            for flag in ("is_current", "late", "variant_mismatch", "sandboxed"):
                values[flag] = bool(values[flag])
            out.append(SubmissionRow(**values))
        return out

    def current(self, assignment: str) -> dict[str, SubmissionRow]:
        """Each student's current submission row of an assignment, by student id."""
        rows = self._rows("assignment = ? AND is_current = 1", (assignment,))
        return {row.student_id: row for row in rows}

    def history(self, assignment: str, student_id: str | None = None) -> list[SubmissionRow]:
        """Every grading of an assignment (one student's, or everyone's), oldest first."""
        if student_id is None:
            return self._rows("assignment = ?", (assignment,))
        return self._rows("assignment = ? AND student_id = ?", (assignment, student_id))

    def assignments(self) -> list[str]:
        """The assignments with at least one submission."""
        rows = self.conn.execute("SELECT DISTINCT assignment FROM submissions ORDER BY 1")
        return [r[0] for r in rows]

    def result(self, submission_id: int) -> GradeResult:
        """The stored result of a graded submission, rebuilt for feedback pages."""
        row = self.conn.execute(
            "SELECT result_json FROM submissions WHERE id = ?", (submission_id,)
        ).fetchone()
        if row is None or row[0] is None:
            raise GradebookError(f"submission {submission_id} has no stored result")
        return result_from_record(json.loads(row[0]))

    def check_results(self, assignment: str) -> list[sqlite3.Row]:
        """Check rows of every current graded submission of an assignment."""
        return self.conn.execute(
            "SELECT s.student_id, c.* FROM check_results c "
            "JOIN submissions s ON s.id = c.submission_id "
            "WHERE s.assignment = ? AND s.is_current = 1 ORDER BY s.student_id, c.rowid",
            (assignment,),
        ).fetchall()

    # ------------------------------------------------------------------ runs
    def start_run(self, assignment: str, workers: int, regrade: bool) -> int:
        """Record the start of a batch run; its id."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (assignment, started_at, workers, regrade) VALUES (?, ?, ?, ?)",
                (assignment, now(), workers, int(regrade)),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish_run(self, run_id: int, graded: int, skipped: int, failed: int) -> None:
        """Record how a batch run ended (also when it was interrupted)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, graded = ?, skipped = ?, failed = ? WHERE id = ?",
                (now(), graded, skipped, failed, run_id),
            )

    # ------------------------------------------------------------------ manual scores
    def manual_scores(self, assignment: str) -> dict[tuple[str, str], ManualScore]:
        """Current hand-graded scores, by (student id, question)."""
        rows = self.conn.execute(
            "SELECT student_id, question, points, max_points, comment FROM manual_scores "
            "WHERE assignment = ? AND is_current = 1 ORDER BY student_id, id",
            (assignment,),
        ).fetchall()
        return {(r[0], r[1]): ManualScore(r[0], r[1], r[2], r[3], r[4]) for r in rows}

    def set_manual_scores(
        self, assignment: str, scores: list[ManualScore], source: str
    ) -> tuple[int, int, int]:
        """Store scores in one transaction: (added, changed, unchanged). Changed scores keep
        their previous value as a superseded row."""
        added = changed = unchanged = 0
        stamp = now()
        with self.transaction() as conn:
            for score in scores:
                old = conn.execute(
                    "SELECT id, points, max_points, comment FROM manual_scores "
                    "WHERE student_id = ? AND assignment = ? AND question = ? "
                    "AND is_current = 1",
                    (score.student_id, assignment, score.question),
                ).fetchone()
                if old is not None:
                    if (old[1], old[2], old[3]) == (score.points, score.max_points, score.comment):
                        unchanged += 1
                        continue
                    conn.execute("UPDATE manual_scores SET is_current = 0 WHERE id = ?", (old[0],))
                    changed += 1
                else:
                    added += 1
                conn.execute(
                    "INSERT INTO manual_scores (student_id, assignment, question, points, "
                    "max_points, comment, source, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        score.student_id,
                        assignment,
                        score.question,
                        score.points,
                        score.max_points,
                        score.comment,
                        source,
                        stamp,
                    ),
                )
        return added, changed, unchanged

    def integrity(self) -> str:
        """SQLite's own integrity check ('ok' when the file is sound)."""
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


# ---------------------------------------------------------------------- result records
def _plain(value: Any) -> Any:
    """A JSON-ready copy of plot data (arrays become lists)."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def result_record(result: GradeResult) -> dict[str, Any]:
    """A GradeResult as plain JSON-ready data (what workers send and the gradebook keeps)."""
    return {
        "student_id": result.student_id,
        "assignment": result.assignment,
        "variant": result.variant,
        "variant_claimed": result.variant_claimed,
        "variant_mismatch": result.variant_mismatch,
        "sandboxed": result.sandboxed,
        "check_version": result.check_version,
        "content_hash": result.content_hash,
        "score": result.score,
        "max_score": result.max_score,
        "notes": list(result.notes),
        "timings": dict(result.timings),
        "plots": _plain(result.plots),
        "stdout": result.stdout,
        "outcomes": [
            {
                "id": o.spec.id,
                "title": o.spec.title,
                "problem": o.spec.problem,
                "spec_points": o.spec.points,
                "function": o.spec.function,
                "extra_credit": o.spec.extra_credit,
                "status": o.status,
                "fraction": o.fraction,
                "message": o.message,
                "seconds": o.seconds,
                "points": result.points(o),
                "max_points": result.max_points[o.spec.id],
            }
            for o in result.outcomes
        ],
    }


def _stored_check(sub: Any) -> None:
    raise RuntimeError("a check rebuilt from the gradebook cannot be run again")


def result_from_record(record: dict[str, Any]) -> GradeResult:
    """Rebuild a GradeResult from `result_record` data (for results.json and feedback)."""
    outcomes = []
    for o in record["outcomes"]:
        spec = CheckSpec(
            o["id"],
            o["title"],
            o["problem"],
            o["spec_points"],
            o["function"],
            bool(o["extra_credit"]),
            _stored_check,
        )
        outcomes.append(
            suite.CheckOutcome(spec, o["status"], o["fraction"], o["message"], o["seconds"])
        )
    plots = [
        {
            **p,
            "series": {k: np.asarray(v, dtype=float) for k, v in p["series"].items()},
            "reference": {k: np.asarray(v, dtype=float) for k, v in p["reference"].items()},
        }
        for p in record.get("plots", [])
    ]
    return GradeResult(
        student_id=record["student_id"],
        assignment=record["assignment"],
        outcomes=outcomes,
        max_points={o["id"]: float(o["max_points"]) for o in record["outcomes"]},
        variant=record["variant"],
        variant_claimed=record["variant_claimed"],
        sandboxed=bool(record["sandboxed"]),
        check_version=record["check_version"],
        content_hash=record["content_hash"],
        notes=list(record.get("notes", [])),
        timings=dict(record.get("timings", {})),
        plots=plots,
        stdout=record.get("stdout", ""),
    )
