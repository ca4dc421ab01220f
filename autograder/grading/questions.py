"""The hand-graded questions of an assignment: their keys, labels and maxima.

The hand-graded answers are the notebook's markdown cells tagged `written`; each opens with a
bold label that names its question (`**A2.3 comment.**`, `**B3(b) accuracy table.**`). The
maximum of each question comes from the solution bundle's rubric.md; a question the rubric
marks extra or bonus is extra credit.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from autograder import plugin
from autograder.cells import cell_tags, cell_text

LABEL = re.compile(
    r"^\s*\*\*\s*(?P<title>(?P<key>[A-Z]\d+(?:\.\d+)?(?:\([a-z]\))?)[^*]*?)\.?\s*\*\*"
)
PLACEHOLDER = "*Your answer here"


class QuestionsError(ValueError):
    """The student notebook that names the questions cannot be read."""


@dataclass(frozen=True)
class Question:
    """A hand-graded question: its key (A2.3), its label, its maximum, and whether it is extra."""

    key: str
    title: str
    max_points: float | None
    extra: bool
    criteria: str = ""


def written_cells(nb: dict[str, Any]) -> list[tuple[int, str | None, str]]:
    """(cell index, question key or None, label) of each `written` markdown cell."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    out = []
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        if "written" not in cell_tags(cell):
            continue
        match = LABEL.match(cell_text(cell))
        if match:
            out.append((index, match["key"], match["title"].strip()))
        else:
            out.append((index, None, ""))
    return out


def _rubric(assignment: str) -> dict[str, tuple[float, bool, str]]:
    """{question key: (points, extra, full-credit text)} parsed from the solution's rubric."""
    path = plugin.get(assignment).solution_dir / "rubric.md"
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
    info = plugin.get(assignment)
    path = info.bundle_dir / info.notebook
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QuestionsError(f"cannot read the student notebook {path}: {exc}") from exc
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
    except QuestionsError:
        return {}
