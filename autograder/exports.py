"""Scores out of the gradebook: CSV for an LMS, and a Gradescope autograder zip.

    effdl export csv --gradebook PATH --assignment NAME [--format plain|canvas|sakai] [--out FILE]
    effdl export gradescope --assignment NAME --out autograder.zip [--course course.toml]

The CSV has one row per student: each problem's points (hand-graded scores included) and
the total, with the course's late policy applied; docs/exports.md documents every column of
every format. The Gradescope zip holds setup.sh, run_autograder, this grader's source (the
checks, the harness, the reference library, the student bundle) and, with --course, the
variant secret and point overrides; `run_autograder` grades $AUTOGRADER_ROOT/submission
(default /autograder) with the same sandbox and writes results/results.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import assignments, late
from autograder.assignments import REPO
from autograder.course import Course, load_course
from autograder.gradebook import Gradebook, GradebookError

FORMATS = ("plain", "canvas", "sakai")
CONFIG_NAME = "effdl-gradescope.json"
ENTRY_NAME = "run_gradescope.py"


class ExportError(ValueError):
    """An export that cannot be made as asked."""


# ---------------------------------------------------------------------- scores
@dataclass
class StudentScore:
    """A student's scores for an export, before and after the late policy."""

    student_id: str
    status: str
    problems: dict[str, float] = field(default_factory=dict)
    auto: float = 0.0
    manual: float = 0.0
    submitted_at: str = ""
    time_source: str = ""
    lateness: late.Lateness | None = None
    note: str = ""

    @property
    def multiplier(self) -> float:
        return self.lateness.multiplier if self.lateness else 1.0

    @property
    def raw_total(self) -> float:
        return self.auto + self.manual

    @property
    def total(self) -> float:
        return round(self.raw_total * self.multiplier, 2)


def _natural(key: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def class_scores(
    book: Gradebook, assignment: str, course: Course
) -> tuple[list[str], list[StudentScore], float]:
    """(problem columns, one StudentScore per student, maximum total without extra credit)."""
    from autograder.manual import questions

    current = book.current(assignment)
    if not current:
        raise GradebookError(f"{book.path} has no submissions of {assignment}")
    settings = course.settings(assignment)
    scores: dict[str, StudentScore] = {}
    problems: set[str] = set()
    for sid, row in sorted(current.items()):
        standing = late.lateness(settings, sid, row.submitted_time)
        scores[sid] = StudentScore(
            student_id=sid,
            status=row.status,
            auto=float(row.score or 0.0),
            submitted_at=row.submitted_at or "",
            time_source=row.submitted_source or "",
            lateness=standing,
            note=(row.error or "").splitlines()[0][:200] if row.status == "failed" else "",
        )
    auto_max = 0.0
    seen_max: set[str] = set()
    for c in book.check_results(assignment):
        score = scores[c["student_id"]]
        problems.add(c["problem"])
        score.problems[c["problem"]] = score.problems.get(c["problem"], 0.0) + c["points"]
        if c["check_id"] not in seen_max and not c["extra_credit"]:
            auto_max += c["max_points"]
        seen_max.add(c["check_id"])
    manual_max = {q.key: q for q in questions(assignment)}
    recorded_max: dict[str, float] = {}
    for (sid, key), m in book.manual_scores(assignment).items():
        if sid not in scores:
            continue
        problems.add(key)
        recorded_max[key] = m.max_points
        scores[sid].manual += m.points
        scores[sid].problems[key] = scores[sid].problems.get(key, 0.0) + m.points
    for key, top in recorded_max.items():
        question = manual_max.get(key)
        if question is None or not question.extra:
            auto_max += top
    return sorted(problems, key=_natural), list(scores.values()), auto_max


def _fmt(value: float) -> str:
    return f"{round(value, 2):g}"


def _lms_title(assignment: str, title: str | None) -> str:
    """A column title LMS importers accept: letters, digits and spaces."""
    text = title or assignment
    clean = re.sub(r"[^A-Za-z0-9 ]+", " ", text).strip()
    if not clean:
        raise ExportError(f"the title {text!r} has no letters or digits")
    return re.sub(r" +", " ", clean)


def export_csv(
    gradebook: Path,
    assignment: str,
    fmt: str = "plain",
    course_path: str | None = None,
    title: str | None = None,
) -> str:
    """The CSV text of one assignment's scores in the given format."""
    assignments.get(assignment)
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    course = load_course(course_path)
    with Gradebook.open(gradebook, create=False) as book:
        problems, scores, maximum = class_scores(book, assignment, course)
    failed = [s.student_id for s in scores if s.status == "failed"]
    if failed:
        print(
            f"warning: {len(failed)} submission(s) could not be graded and have no score: "
            + ", ".join(failed),
            file=sys.stderr,
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == "plain":
        writer.writerow(
            [
                "student_id",
                "status",
                "submitted_at",
                "time_source",
                "days_late",
                "late_multiplier",
                "auto_points",
                "manual_points",
                "raw_total",
                *problems,
                "total",
                "max_total",
                "note",
            ]
        )
        for s in scores:
            graded = s.status == "graded"
            standing = s.lateness
            writer.writerow(
                [
                    s.student_id,
                    s.status,
                    s.submitted_at,
                    s.time_source,
                    standing.days_late if standing else 0,
                    f"{s.multiplier:g}",
                    _fmt(s.auto) if graded else "",
                    _fmt(s.manual),
                    _fmt(s.raw_total) if graded else "",
                    *(
                        _fmt(s.problems.get(p, 0.0) * s.multiplier) if graded else ""
                        for p in problems
                    ),
                    _fmt(s.total) if graded else "",
                    _fmt(maximum),
                    s.note or (standing.reason if standing and standing.late else ""),
                ]
            )
    elif fmt == "canvas":
        column = _lms_title(assignment, title)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
        writer.writerow(["Points Possible", "", "", "", "", _fmt(maximum)])
        for s in scores:
            total = _fmt(s.total) if s.status == "graded" else ""
            writer.writerow([s.student_id, "", s.student_id, "", "", total])
    else:
        column = _lms_title(assignment, title)
        writer.writerow(
            ["Student ID", "Student Name", f"{column} [{_fmt(maximum)}]", f"* {column}"]
        )
        for s in scores:
            total = _fmt(s.total) if s.status == "graded" else ""
            comment = s.note
            if s.lateness and s.lateness.late and s.status == "graded":
                comment = f"late {s.lateness.days_late} day(s): {s.lateness.reason}"
            writer.writerow([s.student_id, s.student_id, total, comment])
    return buffer.getvalue()


def write_new(path: Path, text: str, force: bool = False) -> None:
    """Write an export file, refusing to replace an existing one unless `force`."""
    from autograder.results import write_atomic

    if path.exists() and not force:
        raise ExportError(f"{path} exists; choose another --out or add --force to replace it")
    write_atomic(path, text)


# ---------------------------------------------------------------------- gradescope
SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# bubblewrap: the sandbox; util-linux: setpriv, which drops root inside it.
apt-get install -y -q python3 python3-venv python3-pip bubblewrap util-linux
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
"$ROOT/venv/bin/python" -m pip install --quiet -r "$ROOT/source/requirements.txt"
# Imports the checks and says which sandbox this machine gives (fails the build if broken).
"$ROOT/venv/bin/python" "$ROOT/source/run_gradescope.py" --root "$ROOT" --check-install
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope's entry point: grades $ROOT/submission, writes $ROOT/results/results.json.
# AUTOGRADER_ROOT (default /autograder) and EFFDL_PYTHON let a test run it anywhere.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${EFFDL_PYTHON:-$ROOT/venv/bin/python}"
exec "$PYTHON" "$ROOT/source/run_gradescope.py" --root "$ROOT"
"""

ENTRY = '''"""Entry point of the Gradescope autograder made by `effdl export gradescope`."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "lib")]

from autograder.exports import gradescope_main  # noqa: E402

sys.exit(gradescope_main(sys.argv[1:]))
'''


def _requirements() -> str:
    """The runtime dependencies of pyproject.toml, one per line."""
    from autograder.course import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return "\n".join(project["dependencies"]) + "\n"


def _course_toml(course: Course, assignment: str) -> str:
    """The part of the course a Gradescope grader needs: name, secret, point overrides."""
    lines = ["[course]", f"name = {json.dumps(course.name)}"]
    if course.secret is not None:
        lines.append(f"secret = {json.dumps(course.secret)}")
    points = course.settings(assignment).points
    if points:
        lines += ["", f'[assignments."{assignment}".points]']
        lines += [f"{json.dumps(k)} = {v!r}" for k, v in sorted(points.items())]
    return "\n".join(lines) + "\n"


def _source_files(assignment: str) -> list[tuple[Path, str]]:
    """(file, name in the zip) of every source file the grader needs."""
    info = assignments.get(assignment)
    picked: list[tuple[Path, str]] = []

    def add_tree(folder: Path, skip: tuple[Path, ...] = ()) -> None:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            if any(s in path.parents for s in skip):
                continue
            picked.append((path, path.relative_to(REPO).as_posix()))

    checks = REPO / "autograder" / "checks"
    others = tuple(p for p in checks.iterdir() if p.is_dir() and p.name != assignment)
    add_tree(REPO / "autograder", skip=others)
    add_tree(REPO / "lib" / "effdl")
    if not info.bundle_dir.is_dir():
        raise ExportError(f"the student bundle {info.bundle_dir} is missing: run effdl build")
    add_tree(info.bundle_dir)
    return picked


def _zip_add(
    archive: zipfile.ZipFile, name: str, data: str | bytes, executable: bool = False
) -> None:
    """Add one file with a fixed date and its mode (so that the zip is reproducible)."""
    entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    entry.external_attr = (0o100755 if executable else 0o100644) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(entry, data)


def gradescope_zip(
    assignment: str, out: Path, course_path: str | None = None, force: bool = False
) -> Path:
    """Build the Gradescope autograder zip for an assignment at `out`."""
    assignments.get(assignment)
    if out.suffix != ".zip":
        raise ExportError(f"{out}: the Gradescope autograder must be a .zip file")
    if out.exists() and not force:
        raise ExportError(f"{out} exists; choose another --out or add --force to replace it")
    course = load_course(course_path)
    files = _source_files(assignment)
    config = {"assignment": assignment, "id_fields": ["sid", "email", "id"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        _zip_add(archive, "setup.sh", SETUP_SH, executable=True)
        _zip_add(archive, "run_autograder", RUN_AUTOGRADER, executable=True)
        _zip_add(archive, ENTRY_NAME, ENTRY)
        _zip_add(archive, CONFIG_NAME, json.dumps(config, indent=2) + "\n")
        _zip_add(archive, "requirements.txt", _requirements())
        _zip_add(archive, "course.toml", _course_toml(course, assignment))
        for path, name in files:
            _zip_add(archive, name, path.read_bytes())
    tmp.replace(out)
    return out


def gradescope_student(metadata: Any, fields: list[str]) -> str:
    """The student id from Gradescope's submission metadata (first submitter's first field)."""
    from autograder.students import RosterError, check_student_id

    users = metadata.get("users") if isinstance(metadata, dict) else None
    user = users[0] if isinstance(users, list) and users and isinstance(users[0], dict) else {}
    for name in fields:
        value = user.get(name)
        if value not in (None, ""):
            try:
                return check_student_id(str(value).strip())
            except RosterError:
                continue
    return "gradescope-student"


def _write_failure(results: Path, text: str) -> None:
    from autograder.results import write_atomic

    data = {"score": 0, "output": text, "visibility": "visible", "tests": []}
    write_atomic(results, json.dumps(data, indent=2) + "\n")


def gradescope_main(argv: list[str]) -> int:
    """What run_autograder runs: grade ROOT/submission into ROOT/results/results.json."""
    parser = argparse.ArgumentParser(prog="run_gradescope.py")
    parser.add_argument("--root", default="/autograder")
    parser.add_argument("--check-install", action="store_true")
    args = parser.parse_args(argv)
    root = Path(args.root)
    source = Path(__file__).resolve().parents[1]
    config = json.loads((source / CONFIG_NAME).read_text(encoding="utf-8"))
    assignment = config["assignment"]
    course_file = source / "course.toml"
    course = load_course(course_file) if course_file.is_file() else Course()
    from autograder import suite
    from autograder.sandbox import backend

    kind, why = backend()
    print(f"effdl autograder for {assignment}, code in {source}; sandbox: {kind} ({why})")
    if args.check_install:
        suite.load(assignment)
        print("checks import: ok")
        return 0
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    metadata: Any = {}
    meta_path = root / late.METADATA_NAME
    if meta_path.is_file():
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError:
            print(f"warning: {meta_path} is not valid JSON", file=sys.stderr)
    student = gradescope_student(metadata, list(config.get("id_fields", ["sid"])))
    from autograder.grade import grade_submission
    from autograder.results import write_results
    from autograder.submission import SubmissionError

    try:
        result = grade_submission(root / "submission", assignment, course, student_id=student)
    except SubmissionError as exc:
        _write_failure(results, f"Your submission could not be graded: {exc}")
        print(f"not graded: {exc}")
        return 0
    except Exception:
        _write_failure(results, "The autograder failed on this submission; the staff was told.")
        traceback.print_exc()
        return 1
    write_results(result, results)
    print(f"{student}: {result.score:g} / {result.max_score:g}; {results}")
    return 0
