"""Hand-graded parts: grade by question, then bring the scores back into the gradebook.

The hand-graded answers are the notebook's markdown cells tagged `written`; each opens with a
bold label that names its question (`**A2.3 comment.**`, `**B3(b) accuracy table.**`). The
maximum of each question comes from the solution bundle's rubric.md (a course may change it
in the scores CSV).

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
import functools
import io
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from autograder import assignments
from autograder.gradebook import Gradebook, ManualScore
from autograder.results import write_atomic
from autograder.submission import SubmissionError, load_submission

CSV_NAME = "manual-scores.csv"
CSV_COLUMNS = ["student_id", "question", "max", "points", "comment"]
LABEL = re.compile(
    r"^\s*\*\*\s*(?P<title>(?P<key>[A-Z]\d+(?:\.\d+)?(?:\([a-z]\))?)[^*]*?)\.?\s*\*\*"
)
PLACEHOLDER = "*Your answer here"
IMAGE_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
MAX_IMAGES = 12
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_TEXT = 20_000
MAX_PRINTED = 4_000


class ManualError(ValueError):
    """A scores CSV or a request that cannot be carried out (nothing was changed)."""


@dataclass(frozen=True)
class Question:
    """A hand-graded question: its key (A2.3), its label, its maximum, and whether it is extra."""

    key: str
    title: str
    max_points: float | None
    extra: bool
    criteria: str = ""


@dataclass
class Answer:
    """One student's answer to one question, as data."""

    text: str
    printed: str = ""
    images: list[tuple[str, bytes]] = field(default_factory=list)
    answered: bool = True
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- questions
def _cell_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _tags(cell: dict[str, Any]) -> list[str]:
    meta = cell.get("metadata")
    tags = meta.get("tags") if isinstance(meta, dict) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def written_cells(nb: dict[str, Any]) -> list[tuple[int, str | None, str]]:
    """(cell index, question key or None, label) of each `written` markdown cell."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    out = []
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        if "written" not in _tags(cell):
            continue
        match = LABEL.match(_cell_text(cell))
        if match:
            out.append((index, match["key"], match["title"].strip()))
        else:
            out.append((index, None, ""))
    return out


def _rubric(assignment: str) -> dict[str, tuple[float, bool, str]]:
    """{question key: (points, extra, full-credit text)} parsed from the solution's rubric."""
    path = assignments.get(assignment).solution_dir / "rubric.md"
    if not path.is_file():
        return {}
    found: dict[str, tuple[float, bool, str]] = {}
    section = ""
    each: float | None = None
    bullets = 0
    total: float | None = None

    def close_section() -> None:
        if section and (total is not None or (each is not None and bullets)):
            found[section] = (total if total is not None else each * bullets, False, "")

    for line in path.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^##\s+(\S+)(.*)$", line)
        if heading:
            close_section()
            section, rest = heading[1], heading[2]
            all_in = re.search(r"(\d+(?:\.\d+)?) in all", rest)
            per = re.search(r"(\d+(?:\.\d+)?) points? each", rest)
            total = float(all_in[1]) if all_in else None
            each = float(per[1]) if per else None
            bullets = 0
            continue
        if line.startswith("- **"):
            bullets += 1
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if "|" in line else []
        if len(cells) >= 2 and re.fullmatch(r"\d+(?:\.\d+)?", cells[1]):
            part = cells[0]
            key_match = re.match(r"^([A-Z]\d+(?:\.\d+)?)?\s*(\([a-z]\))?", part)
            key = (key_match[1] or section) + (key_match[2] or "") if key_match else section
            extra = "extra" in part.lower() or "bonus" in part.lower()
            found[key] = (float(cells[1]), extra, cells[2] if len(cells) > 2 else "")
    close_section()
    return found


@functools.cache
def questions(assignment: str) -> tuple[Question, ...]:
    """The hand-graded questions of an assignment, in notebook order."""
    info = assignments.get(assignment)
    path = info.bundle_dir / info.notebook
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManualError(f"cannot read the student notebook {path}: {exc}") from exc
    rubric = _rubric(assignment)
    out = []
    for index, key, title in written_cells(nb):
        key = key or f"cell-{index}"
        points, extra, criteria = rubric.get(key, (None, False, ""))
        out.append(Question(key, title or key, points, extra, criteria))
    return tuple(out)


def question_titles(assignment: str) -> dict[str, str]:
    """{question key: its label} (empty when the notebook cannot be read)."""
    try:
        return {q.key: q.title for q in questions(assignment)}
    except ManualError:
        return {}


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
            answer.printed += _cell_text({"source": output.get("text", "")})
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
                answer.printed += _cell_text({"source": data["text/plain"]}) + "\n"


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
        text = _cell_text(cell)[:MAX_TEXT]
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


def _env() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ q.key }}: {{ assignment }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
section { border-top: 1px solid #ccc; padding: 0.5em 0 1em; }
pre { background: #f6f8fa; padding: 0.6em; white-space: pre-wrap; font-size: 0.9em; }
.meta { color: #666; } .missing { color: #cf222e; } img { max-width: 540px; border: 1px solid #ddd; margin: 0.3em; }
</style></head><body>
<p><a href="index.html">all questions</a></p>
<h1>{{ q.title }}</h1>
<p class="meta">{{ assignment }} &middot; question <b>{{ q.key }}</b> &middot;
{% if q.max_points is not none %}{{ "%g"|format(q.max_points) }} points{% else %}no maximum in the rubric: set it in the CSV{% endif %}
{% if q.extra %}(extra credit){% endif %} &middot; {{ rows|length }} students</p>
{% if q.criteria %}<p><b>Full credit:</b> {{ q.criteria }}</p>{% endif %}
{% for r in rows %}
<section id="{{ r.student }}"><h2>{{ r.student }}{% if r.score %} <span class="meta">(recorded: {{ r.score }})</span>{% endif %}</h2>
{% for n in r.notes %}<p class="meta">{{ n }}</p>{% endfor %}
{% if r.answer is none %}<p class="missing">No answer found.</p>
{% else %}{% if not r.answer.answered %}<p class="missing">Not answered: the template text is unchanged.</p>{% endif %}
<pre>{{ r.answer.text }}</pre>
{% if r.answer.printed %}<p class="meta">printed by the cells above:</p><pre>{{ r.answer.printed }}</pre>{% endif %}
{% for img in r.images %}<img src="{{ img }}" alt="plot of {{ r.student }}">{% endfor %}
{% endif %}</section>
{% endfor %}
</body></html>
"""

INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Hand grading: {{ assignment }}</title>
<style>body { font-family: system-ui, sans-serif; max-width: 900px; margin: 2em auto; }
td, th { padding: 0.3em 0.8em; text-align: left; border-bottom: 1px solid #ddd; }</style></head><body>
<h1>Hand grading: {{ assignment }}</h1>
<p>Grade one question at a time, then fill in <code>{{ csv_name }}</code> and run
<code>effdl manual import {{ csv_name }} --gradebook ... --assignment {{ assignment }}</code>.</p>
<table><tr><th>question</th><th>points</th><th>answered</th></tr>
{% for q, page, answered in items %}<tr><td><a href="{{ page }}">{{ q.title }}</a></td>
<td>{% if q.max_points is not none %}{{ "%g"|format(q.max_points) }}{% endif %}{% if q.extra %} (extra){% endif %}</td>
<td>{{ answered }} / {{ students }}</td></tr>{% endfor %}
</table></body></html>
"""


def export_manual(gradebook: Path, assignment: str, out: Path, force: bool = False) -> list[str]:
    """Write the by-question pages and the scores CSV; return what was done, as lines."""
    qs = questions(assignment)
    if not qs:
        raise ManualError(f"{assignment} has no hand-graded (written) questions")
    with Gradebook.open(gradebook, create=False) as book:
        current = book.current(assignment)
        recorded = book.manual_scores(assignment)
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
    env = _env()
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
                }
            )
        page = f"{_slug(q.key)}.html"
        html = env.from_string(PAGE).render(q=q, assignment=assignment, rows=rows)
        write_atomic(out / page, html)
        items.append((q, page, answered))
    index = env.from_string(INDEX).render(
        assignment=assignment, items=items, students=len(per_student), csv_name=CSV_NAME
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


def import_manual(gradebook: Path, assignment: str, path: Path) -> list[str]:
    """Store the scores of a filled-in CSV and render the affected feedback pages again."""
    from autograder.batch import write_outputs

    with Gradebook.open(gradebook, create=False) as book:
        current = book.current(assignment)
        scores, blank = read_scores_csv(path, assignment, set(current))
        added, changed, unchanged = book.set_manual_scores(assignment, scores, str(path))
        rendered = 0
        for sid in sorted({s.student_id for s in scores}):
            row = current[sid]
            if row.status == "graded" and row.out_dir:
                record = json.loads(
                    book.conn.execute(
                        "SELECT result_json FROM submissions WHERE id = ?", (row.id,)
                    ).fetchone()[0]
                )
                write_outputs(book, record, Path(row.out_dir))
                rendered += 1
    return [
        f"imported {len(scores)} scores: {added} new, {changed} changed (the old ones are kept "
        f"as history), {unchanged} unchanged; {blank} rows without points were left out",
        f"rendered {rendered} feedback pages again with the hand-graded scores",
    ]
