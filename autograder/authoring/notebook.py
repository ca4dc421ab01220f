"""Turn a rendered template (cells separated by `# %% <role>` lines) into a notebook.

Roles: markdown (text), written (text the student fills in: hand-graded), setup (given code
that defines things), answer (code the student writes), public-check (self-tests),
experiment (training runs and plots). Code cells carry their role as a tag, which is how
the grader knows what to run. Cell ids are deterministic, outputs are empty, the kernel is
plain python3: the same template and variant always give the same bytes.
"""

from __future__ import annotations

import re
from typing import Any

import nbformat

from autograder.cells import ROLES

MARKER = re.compile(r"^# %% ?(\S+)\s*$")


class TemplateError(ValueError):
    """A template line or cell that does not follow the format."""


def split_cells(text: str, where: str) -> list[tuple[str, str]]:
    """(role, source) pairs from rendered template text."""
    cells: list[tuple[str, list[str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        match = MARKER.match(line)
        if match:
            role = match.group(1)
            if role not in ROLES:
                raise TemplateError(f"{where}:{number}: unknown cell role {role!r}; use {ROLES}")
            cells.append((role, []))
        elif cells:
            cells[-1][1].append(line)
        elif line.strip():
            raise TemplateError(f"{where}:{number}: text before the first '# %% <role>' line")
    return [(role, "\n".join(lines).strip("\n")) for role, lines in cells if "".join(lines).strip()]


def make_notebook(cells: list[tuple[str, str]], name: str, metadata: dict[str, Any]) -> Any:
    """An nbformat 4.5 notebook with tagged cells and deterministic ids."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        **metadata,
    }
    for index, (role, source) in enumerate(cells):
        cell_id = f"{name}-{index:03d}"
        if role in ("markdown", "written"):
            cell = nbformat.v4.new_markdown_cell(source, id=cell_id)
            if role == "written":
                cell.metadata["tags"] = ["written"]
        else:
            cell = nbformat.v4.new_code_cell(source, id=cell_id)
            cell.metadata["tags"] = [role]
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def notebook_bytes(nb: Any) -> bytes:
    return (nbformat.writes(nb, version=4) + "\n").encode("utf-8")
