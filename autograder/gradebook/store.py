"""The class gradebook: one SQLite file holding every grade of every submission.

Every line of SQL on a gradebook lives in this module (the tables are in schema.py). The file
is in WAL mode, every change is one transaction, and only one process writes: batch grading
sends its workers' results to the parent, which records them. Readers (report, export) may
open it while a batch runs.
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

from autograder.course.students import Student
from autograder.gradebook.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from autograder.grading.result import GradeResult, bounded
from autograder.grading.score import ManualScore, score_of

# One stored result (far below SQLite's 1 GB limit). A result is bounded before it is stored
# (grading.result.bounded), which keeps it far below this: the check is a last guard only.
MAX_RESULT_CHARS = 8 * 1024 * 1024


class GradebookError(ValueError):
    """A gradebook file that cannot be used, or a change it refuses."""


class ScoreConflict(GradebookError):
    """A hand-graded score changed since the grader saw it: saving would lose that change."""


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
    def record(
        self,
        result: GradeResult,
        source_path: str,
        submitted_at: str | None,
        submitted_source: str | None,
        late: bool,
        reason: str,
        out_dir: str | None,
    ) -> int:
        """Store one result (graded or not) as the student's current grade, with its checks,
        in one transaction; returns the row's id. The result is cut to its caps first."""
        data = bounded(result).to_dict()
        text = json.dumps(data)
        if len(text) > MAX_RESULT_CHARS:
            raise GradebookError(
                f"the result of {result.student_id} is {len(text)} characters of JSON, more "
                f"than the {MAX_RESULT_CHARS} a gradebook row holds"
            )
        score = score_of(result)
        timings = result.timings
        with self.transaction() as conn:
            sub_id = self._insert_submission(
                conn,
                student_id=result.student_id,
                assignment=result.assignment,
                status="graded" if result.graded else "failed",
                reason=reason,
                source_path=source_path,
                content_hash=result.content_hash or None,
                check_version=result.check_version,
                submitted_at=submitted_at,
                submitted_source=submitted_source,
                late=int(late),
                score=score.raw if result.graded else None,
                max_score=score.max_points,
                variant=result.variant or None,
                variant_mismatch=int(result.variant_mismatch),
                sandboxed=int(result.sandboxed),
                seconds_stage=timings.get("stage"),
                seconds_sandbox=timings.get("sandbox"),
                seconds_checks=timings.get("checks"),
                seconds_total=timings.get("total"),
                error=None if result.graded else result.error[:20000],
                out_dir=out_dir,
                result_json=text,
            )
            conn.executemany(
                "INSERT INTO check_results (submission_id, check_id, problem, title, function, "
                "points, max_points, extra_credit, status, message, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        sub_id,
                        c.id,
                        c.problem,
                        c.title,
                        c.function,
                        c.points,
                        c.max_points,
                        int(c.extra_credit),
                        c.status,
                        c.message,
                        c.seconds,
                    )
                    for c in result.checks
                ]
                if result.graded
                else [],
            )
        return sub_id

    def set_out_dir(self, submission_id: int, out_dir: str) -> None:
        """Where a submission's result files now are (feedback pages are rendered there)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE submissions SET out_dir = ? WHERE id = ?", (out_dir, submission_id)
            )

    def set_submitted(
        self, submission_id: int, submitted_at: str, submitted_source: str, late: bool
    ) -> None:
        """A new submission time for a stored submission (the submission system's time came
        after it was graded): its grade stands, the late policy is applied from this time."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE submissions SET submitted_at = ?, submitted_source = ?, late = ? "
                "WHERE id = ?",
                (submitted_at, submitted_source, int(late), submission_id),
            )

    def course_file(self, assignment: str) -> tuple[str | None, str] | None:
        """(path or None, fingerprint) of the course file the assignment's pages were last
        rendered with; None when the gradebook does not know (graded before it recorded it)."""
        row = self.conn.execute(
            "SELECT path, fingerprint FROM course_files WHERE assignment = ?", (assignment,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def set_course_file(self, assignment: str, path: str | None, fingerprint: str) -> None:
        """Remember the course file (None: none) the assignment's pages are rendered with."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO course_files (assignment, path, fingerprint, recorded_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(assignment) DO UPDATE SET path = excluded.path, "
                "fingerprint = excluded.fingerprint, recorded_at = excluded.recorded_at",
                (assignment, path, fingerprint, now()),
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
        """The stored result of a submission, rebuilt for pages and exports."""
        row = self.conn.execute(
            "SELECT result_json FROM submissions WHERE id = ?", (submission_id,)
        ).fetchone()
        if row is None or row[0] is None:
            raise GradebookError(f"submission {submission_id} has no stored result")
        return GradeResult.from_dict(json.loads(row[0]))

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
    def manual_scores_of(self, assignment: str, student_id: str) -> list[ManualScore]:
        """One student's current hand-graded scores."""
        return [s for (sid, _q), s in self.manual_scores(assignment).items() if sid == student_id]

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
                _insert_manual(conn, assignment, score, source, stamp)
        return added, changed, unchanged

    def set_people(self, people: list[Student]) -> tuple[int, int]:
        """Store the roster's names and emails in one transaction: (added, updated)."""
        added = updated = 0
        with self.transaction() as conn:
            for person in people:
                old = conn.execute(
                    "SELECT name, email FROM students WHERE student_id = ?", (person.student_id,)
                ).fetchone()
                if old is None:
                    conn.execute(
                        "INSERT INTO students (student_id, added_at, name, email) "
                        "VALUES (?, ?, ?, ?)",
                        (person.student_id, now(), person.name, person.email),
                    )
                    added += 1
                elif (old[0], old[1]) != (person.name, person.email):
                    conn.execute(
                        "UPDATE students SET name = ?, email = ? WHERE student_id = ?",
                        (person.name, person.email, person.student_id),
                    )
                    updated += 1
        return added, updated

    def people(self) -> dict[str, Student]:
        """Every student with the roster's name and email ('' where the roster had none)."""
        rows = self.conn.execute("SELECT student_id, name, email FROM students").fetchall()
        return {r[0]: Student(r[0], r[1] or "", r[2] or "") for r in rows}

    def manual_score_version(self, assignment: str, student_id: str, question: str) -> int:
        """The id of a question's current score row (0 when it has none): what a grader saw."""
        row = self.conn.execute(
            "SELECT id FROM manual_scores WHERE student_id = ? AND assignment = ? "
            "AND question = ? AND is_current = 1",
            (student_id, assignment, question),
        ).fetchone()
        return int(row[0]) if row else 0

    def save_manual_score(self, assignment: str, score: ManualScore, seen: int, source: str) -> int:
        """Store one hand-graded score in one transaction, if the question's current score is
        still the one the grader saw (`seen`, from manual_score_version); else ScoreConflict,
        and nothing changes. The previous score stays as history. Returns the new version."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id, points, comment FROM manual_scores WHERE student_id = ? "
                "AND assignment = ? AND question = ? AND is_current = 1",
                (score.student_id, assignment, score.question),
            ).fetchone()
            current = int(row[0]) if row else 0
            if current != seen:
                raise ScoreConflict(
                    f"{score.student_id} {score.question} was graded by someone else meanwhile"
                    + (f" ({row[1]:g} points: {row[2]!r})" if row else "")
                )
            if row is not None:
                conn.execute("UPDATE manual_scores SET is_current = 0 WHERE id = ?", (current,))
            return _insert_manual(conn, assignment, score, source, now())

    def integrity(self) -> str:
        """SQLite's own integrity check ('ok' when the file is sound)."""
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


def _insert_manual(
    conn: sqlite3.Connection, assignment: str, score: ManualScore, source: str, stamp: str
) -> int:
    """Insert one current hand-graded score row (the caller retired the previous one)."""
    cursor = conn.execute(
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
    assert cursor.lastrowid is not None
    return cursor.lastrowid
