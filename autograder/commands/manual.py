"""Hand-graded parts: grade by question, then bring the scores back into the gradebook.

The questions and their maxima are those of autograder.grading.questions (a course may
change a maximum in the scores CSV).

    effdl manual export --gradebook PATH --assignment NAME --out DIR
        DIR/index.html, one DIR/<question>.html per question with every student's answer
        (the text, what the cells above it printed, and their plots), DIR/images/, and
        DIR/manual-scores.csv to fill in (never overwritten without --force)
    effdl manual import CSV --gradebook PATH --assignment NAME
        checks every row first (nothing is stored when one is wrong), stores the scores
        (a changed score keeps the old one as history) and renders the students' feedback
        pages again with the scores and comments in them

Answers are read from the submissions as JSON data; nothing in them runs, and everything is
shown as text or as a PNG/JPEG image.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import plugin
from autograder.cells import cell_text
from autograder.course.settings import Course
from autograder.gradebook import Gradebook
from autograder.gradebook.course_file import given_or_recorded, remember
from autograder.grading.intake import SubmissionError, load_submission
from autograder.grading.questions import (
    PLACEHOLDER,
    Question,
    QuestionsError,
    questions,
    written_cells,
)
from autograder.grading.score import ManualScore
from autograder.publishing.class_scores import lateness_of
from autograder.publishing.files import write_atomic
from autograder.publishing.markdown import to_html
from autograder.publishing.pages import render
from autograder.publishing.student import publish

CSV_NAME = "manual-scores.csv"
CSV_COLUMNS = ["student_id", "question", "max", "points", "comment"]
IMAGE_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
MAX_IMAGES = 12
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_TEXT = 20_000
MAX_PRINTED = 4_000


class ManualError(ValueError):
    """A scores CSV or a request that cannot be carried out (nothing was changed)."""


@dataclass
class Answer:
    """One student's answer to one question, as data."""

    text: str
    printed: str = ""
    images: list[tuple[str, bytes]] = field(default_factory=list)
    answered: bool = True
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- answers
def _image(data: Any, mime: str) -> bytes | None:
    if isinstance(data, list):
        data = "".join(d for d in data if isinstance(d, str))
    if not isinstance(data, str) or len(data) > MAX_IMAGE_BYTES * 4 // 3 + 16:
        return None
    try:
        raw = base64.b64decode(data, validate=False)
    except ValueError:
        return None
    return raw if raw.startswith(IMAGE_TYPES[mime]) else None


def _outputs(cell: dict[str, Any], answer: Answer) -> None:
    outputs = cell.get("outputs")
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        if output.get("output_type") == "stream":
            answer.printed += cell_text({"source": output.get("text", "")})
            continue
        data = output.get("data")
        if not isinstance(data, dict):
            continue
        for mime in IMAGE_TYPES:
            if mime in data:
                raw = _image(data[mime], mime)
                if raw is not None and len(answer.images) < MAX_IMAGES:
                    answer.images.append((mime, raw))
                break
        else:
            if "text/plain" in data:
                answer.printed += cell_text({"source": data["text/plain"]}) + "\n"


def extract_answers(nb: dict[str, Any], keys: list[str]) -> dict[str, Answer]:
    """Each question's answer in a notebook: the written cell's text, and the printed output
    and plots of the code cells above it (back to the previous markdown cell)."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return {}
    found = written_cells(nb)
    by_key = {key: index for index, key, _ in found if key}
    answers = {}
    for position, key in enumerate(keys):
        index = by_key.get(key)
        notes = []
        if index is None and position < len(found) and found[position][1] is None:
            index = found[position][0]  # the label was edited away: match by position
            notes.append("the question label was changed; matched by position")
        if index is None:
            continue
        cell = cells[index]
        text = cell_text(cell)[:MAX_TEXT]
        answer = Answer(text=text, answered=PLACEHOLDER not in text, notes=notes)
        attachments = cell.get("attachments")
        if isinstance(attachments, dict):
            for item in attachments.values():
                if isinstance(item, dict):
                    _outputs({"outputs": [{"output_type": "display_data", "data": item}]}, answer)
        above = index - 1
        while above >= 0 and isinstance(cells[above], dict):
            if cells[above].get("cell_type") != "code":
                break
            above -= 1
        for code_cell in cells[above + 1 : index]:
            _outputs(code_cell, answer)
        answer.printed = answer.printed[-MAX_PRINTED:]
        answers[key] = answer
    return answers


def read_notebook(source: Path, assignment: str, student_id: str) -> tuple[dict[str, Any], str]:
    """A submission's notebook as JSON data (staged safely), and a note when there is none."""
    with tempfile.TemporaryDirectory(prefix="effdl-manual-") as tmp:
        try:
            sub = load_submission(source, assignment, Path(tmp) / "staging", student_id)
        except SubmissionError as exc:
            return {}, str(exc)
        if sub.notebook_name is None:
            return {}, "no notebook in the submission"
        raw = (sub.files_dir / sub.notebook_name).read_bytes()
    try:
        nb = json.loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return {}, "the notebook is not valid JSON"
    return (nb, "") if isinstance(nb, dict) else ({}, "the notebook is not a JSON object")


# ---------------------------------------------------------------------- export
def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-").lower() or "question"


def own_key(assignment: str, course: Course, student: str) -> str:
    """The student's own answer key (their variant's, with the course's secret), as text."""
    return plugin.get(assignment).key_text(course.secret, student)


def export_manual(
    gradebook: Path,
    assignment: str,
    out: Path,
    force: bool = False,
    course: Course | None = None,
) -> list[str]:
    """Write the by-question pages and the scores CSV; return what was done, as lines."""
    try:
        qs = questions(assignment)
    except QuestionsError as exc:
        raise ManualError(str(exc)) from None
    if not qs:
        raise ManualError(f"{assignment} has no hand-graded (written) questions")
    with Gradebook.open(gradebook, create=False) as book:
        current = book.current(assignment)
        recorded = book.manual_scores(assignment)
        course = given_or_recorded(book, assignment, course) if current else course
    if not current:
        raise ManualError(f"{gradebook} has no submissions of {assignment}")
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    keys = [q.key for q in qs]
    per_student: dict[str, tuple[dict[str, Answer], str]] = {}
    for sid, row in sorted(current.items()):
        source = Path(row.source_path)
        if not source.exists():
            per_student[sid] = ({}, f"the submission {source} is no longer there")
            continue
        nb, note = read_notebook(source, assignment, sid)
        per_student[sid] = (extract_answers(nb, keys) if nb else {}, note)
    course = course or Course()
    keys_of = {sid: own_key(assignment, course, sid) for sid in per_student}
    items = []
    for q in qs:
        rows = []
        answered = 0
        for sid, (answers, note) in per_student.items():
            answer = answers.get(q.key)
            images = []
            if answer is not None:
                answered += answer.answered
                for n, (mime, raw) in enumerate(answer.images):
                    name = f"{_slug(q.key)}-{sid}-{n}.{'png' if mime == 'image/png' else 'jpg'}"
                    (images_dir / name).write_bytes(raw)
                    images.append(f"images/{name}")
            score = recorded.get((sid, q.key))
            rows.append(
                {
                    "student": sid,
                    "answer": answer,
                    "images": images,
                    "notes": ([note] if note else []) + (answer.notes if answer else []),
                    "score": f"{score.points:g} / {score.max_points:g}" if score else "",
                    "key": keys_of[sid],
                    "answer_html": to_html(answer.text) if answer else "",
                }
            )
        page = f"{_slug(q.key)}.html"
        criteria = to_html(q.criteria) if q.criteria else ""
        html = render(
            "manual_question.html.j2", q=q, assignment=assignment, rows=rows, criteria=criteria
        )
        write_atomic(out / page, html)
        items.append((q, page, answered))
    index = render(
        "manual_index.html.j2",
        assignment=assignment,
        items=items,
        students=len(per_student),
        csv_name=CSV_NAME,
    )
    write_atomic(out / "index.html", index)
    lines = [f"wrote {len(qs)} question pages for {len(per_student)} students: {out}/index.html"]
    csv_path = out / CSV_NAME
    if csv_path.exists() and not force:
        lines.append(f"kept the existing {csv_path} (it may hold scores; --force overwrites it)")
    else:
        write_atomic(csv_path, _scores_csv(qs, sorted(per_student), recorded))
        lines.append(f"wrote {csv_path}: fill in points (and comments), then import it")
    return lines


def _scores_csv(
    qs: tuple[Question, ...], students: list[str], recorded: dict[tuple[str, str], ManualScore]
) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for sid in students:
        for q in qs:
            old = recorded.get((sid, q.key))
            top = old.max_points if old else q.max_points
            writer.writerow(
                [
                    sid,
                    q.key,
                    "" if top is None else f"{top:g}",
                    f"{old.points:g}" if old else "",
                    old.comment if old else "",
                ]
            )
    return buffer.getvalue()


# ---------------------------------------------------------------------- import
def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ManualError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ManualError(f"{where}: {what} must be a non-negative number, got {text!r}")
    return value


def read_scores_csv(
    path: Path, assignment: str, students: set[str]
) -> tuple[list[ManualScore], int]:
    """Every filled-in row of a scores CSV, checked; (scores, blank rows). All errors at once."""
    known = {q.key: q for q in questions(assignment)}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            missing = [c for c in ("student_id", "question", "points") if c not in fields]
            if missing:
                raise ManualError(
                    f"{path}: missing column(s) {', '.join(missing)} "
                    f"(found: {', '.join(fields) or 'no header'})"
                )
            rows = list(enumerate(reader, start=2))
    except (OSError, UnicodeDecodeError) as exc:
        raise ManualError(f"cannot read {path}: {exc}") from exc
    errors: list[str] = []
    scores: list[ManualScore] = []
    seen: dict[tuple[str, str], int] = {}
    blank = 0
    for line, row in rows:
        where = f"{path.name}:{line}"
        sid = (row.get("student_id") or "").strip()
        key = (row.get("question") or "").strip()
        points_text = (row.get("points") or "").strip()
        try:
            if sid not in students:
                raise ManualError(f"{where}: no graded submission of {assignment} for {sid!r}")
            if key not in known:
                raise ManualError(
                    f"{where}: unknown question {key!r}; the questions are {', '.join(known)}"
                )
            if (sid, key) in seen:
                raise ManualError(
                    f"{where}: a second row for {sid} {key} (first on line {seen[(sid, key)]})"
                )
            seen[(sid, key)] = line
            if not points_text:
                blank += 1
                continue
            points = _number(points_text, "points", where)
            max_text = (row.get("max") or "").strip()
            top = _number(max_text, "max", where) if max_text else known[key].max_points
            if top is None:
                raise ManualError(f"{where}: {key} has no maximum in the rubric: fill in max")
            if points > top:
                raise ManualError(f"{where}: {points:g} points is more than the maximum {top:g}")
            comment = (row.get("comment") or "").strip()
            scores.append(ManualScore(sid, key, points, top, comment))
        except ManualError as exc:
            errors.append(str(exc))
    if errors:
        shown = "\n  ".join(errors[:25])
        more = f"\n  ... and {len(errors) - 25} more" if len(errors) > 25 else ""
        raise ManualError(f"{path}: nothing was imported; fix these rows:\n  {shown}{more}")
    return scores, blank


def import_manual(
    gradebook: Path, assignment: str, path: Path, course: Course | None = None
) -> list[str]:
    """Store the scores of a filled-in CSV and render the affected feedback pages again, with
    `course`, else the course file the gradebook was graded with (course_file.course_for)."""
    with Gradebook.open(gradebook, create=False) as book:
        current = book.current(assignment)
        course = given_or_recorded(book, assignment, course)
        scores, blank = read_scores_csv(path, assignment, set(current))
        added, changed, unchanged = book.set_manual_scores(assignment, scores, str(path))
        rendered = 0
        for sid in sorted({s.student_id for s in scores}):
            row = current[sid]
            if row.out_dir:
                publish(
                    book.result(row.id),
                    Path(row.out_dir),
                    book.manual_scores_of(assignment, sid),
                    lateness_of(course, row),
                )
                rendered += 1
        if rendered:
            remember(book, assignment, course)
    return [
        f"imported {len(scores)} scores: {added} new, {changed} changed (the old ones are kept "
        f"as history), {unchanged} unchanged; {blank} rows without points were left out",
        f"rendered {rendered} feedback pages again with the hand-graded scores",
    ]
