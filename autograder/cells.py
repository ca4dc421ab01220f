"""The notebook format shared by authoring and grading: cell roles, and reading a cell as data.

A code cell's role is a tag: setup (given code that defines things), answer (code the student
writes), public-check (self-tests), experiment (training runs and plots). A markdown cell
tagged written is an answer graded by hand. Templates write the tags (authoring), the grader
reads them (intake, statements) and the hand-grading pages find the written answers.
"""

from __future__ import annotations

from typing import Any

CODE_ROLES = ("setup", "answer", "public-check", "experiment")
TEXT_ROLES = ("markdown", "written")
ROLES = ("markdown", "written", *CODE_ROLES)
RUN_WHOLE = ("answer", "setup")  # code cells the grader runs whole; untagged ones in part


def cell_text(cell: Any) -> str:
    """A cell's source as one string (nbformat allows a list of lines); '' when malformed."""
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def cell_tags(cell: Any) -> list[str]:
    """The string tags of a cell's metadata (none when malformed)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    tags = meta.get("tags") if isinstance(meta, dict) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def code_role(cell: Any) -> str | None:
    """The role of a code cell from its tags, or None for an untagged cell."""
    tags = cell_tags(cell)
    return next((role for role in CODE_ROLES if role in tags), None)
