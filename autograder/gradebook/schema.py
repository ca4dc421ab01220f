"""The gradebook's schema: its tables, and the migrations that create and update them.

Tables (schema version in `PRAGMA user_version`):
  students       one row per student id seen, with the roster's name and email
  submissions    one row per grading of a submission: content hash, check version, submitted
                 time and its source, late flag, automatic score, timings, the full result as
                 JSON (GradeResult.to_dict, so that pages can be rendered again), and
                 `is_current` (exactly one current row per student and assignment; older rows
                 are the regrade history)
  check_results  one row per check of a submission: points, max, status, message, seconds
  manual_scores  hand-graded scores with comments; an import supersedes the previous score
                 of a question (`is_current`), it never deletes it
  runs           one row per batch run: when, how many graded, skipped and failed
  course_files   per assignment, the course.toml its students' pages were last rendered with
                 (its path, NULL for none, and a fingerprint of its settings), so that a
                 command run later without --course renders them with the same settings
"""

from __future__ import annotations

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
    (
        "students' names and emails, from the roster",
        [
            "ALTER TABLE students ADD COLUMN name TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE students ADD COLUMN email TEXT NOT NULL DEFAULT ''",
        ],
    ),
    (
        "the course file each assignment's pages were rendered with",
        [
            """CREATE TABLE course_files (
                assignment TEXT PRIMARY KEY,
                path TEXT,
                fingerprint TEXT NOT NULL,
                recorded_at TEXT NOT NULL
            )""",
        ],
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)
