"""Sample submissions made from a solution bundle by swapping in wrong definitions.

A sample is a Python file under samples/<assignment>/ holding the wrong definition(s) and a
header line:

    # effdl-sample: replaces=closed_form expect_lost=a2.closed_form

`replaces` names the functions or classes it swaps into the solution (in the notebook, or in
the file given by `in=FP_layers.py`); `expect_lost` names the checks that must lose points,
and no other check may. The module docstring says which mistake it makes.
"""

from __future__ import annotations

import ast
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.assignments import REPO

SAMPLES = REPO / "samples"
HEADER = "# effdl-sample:"


@dataclass(frozen=True)
class Sample:
    """A flawed sample: where it lives, what it replaces, and what it must lose."""

    name: str
    assignment: str
    path: Path
    replaces: tuple[str, ...]
    target: str | None
    expect_lost: tuple[str, ...]
    description: str


def _definition(source: str, name: str) -> tuple[int, int] | None:
    """0-based [start, end) line range of the top-level def/class `name`, decorators included."""
    for node in ast.parse(source).body:
        kinds = ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef
        if isinstance(node, kinds) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return start - 1, node.end_lineno
    return None


def definition_source(source: str, name: str) -> str:
    span = _definition(source, name)
    if span is None:
        raise ValueError(f"no top-level definition of {name!r}")
    return "".join(source.splitlines(keepends=True)[span[0] : span[1]])


def replace_definition(source: str, name: str, new: str) -> str:
    """`source` with the top-level definition of `name` replaced by `new`."""
    span = _definition(source, name)
    if span is None:
        raise ValueError(f"no top-level definition of {name!r} to replace")
    lines = source.splitlines(keepends=True)
    return "".join(lines[: span[0]]) + new.rstrip("\n") + "\n" + "".join(lines[span[1] :])


def load(path: Path, assignment: str) -> Sample:
    text = path.read_text(encoding="utf-8")
    header = next((line for line in text.splitlines() if line.startswith(HEADER)), None)
    if header is None:
        raise ValueError(f"{path}: no '{HEADER}' line")
    fields = dict(item.split("=", 1) for item in header[len(HEADER) :].split())
    doc = ast.get_docstring(ast.parse(text)) or ""
    return Sample(
        name=path.stem,
        assignment=assignment,
        path=path,
        replaces=tuple(fields["replaces"].split(",")),
        target=fields.get("in"),
        expect_lost=tuple(x for x in fields.get("expect_lost", "").split(",") if x),
        description=doc.splitlines()[0] if doc else "",
    )


def samples(assignment: str) -> list[Sample]:
    folder = SAMPLES / assignment
    return [load(p, assignment) for p in sorted(folder.glob("*.py"))] if folder.is_dir() else []


def swap_in_notebook(notebook: Path, name: str, new: str) -> None:
    """Replace the definition of `name` in whichever code cell defines it."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        try:
            found = _definition(source, name)
        except SyntaxError:
            continue
        if found is not None:
            cell["source"] = replace_definition(source, name, new)
            notebook.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
            return
    raise ValueError(f"{notebook.name} has no cell defining {name!r}")


def materialize(sample: Sample, solution_dir: Path, dest: Path) -> Path:
    """Copy the solution bundle to `dest` and swap the sample's definitions into it."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(
        solution_dir,
        dest,
        ignore=shutil.ignore_patterns("answer_key.json", "rubric.md", ".effdl-build.json"),
    )
    text = sample.path.read_text(encoding="utf-8")
    for name in sample.replaces:
        new = definition_source(text, name)
        if sample.target:
            target = dest / sample.target
            target.write_text(replace_definition(target.read_text(), name, new))
        else:
            swap_in_notebook(dest / f"{sample.assignment}.ipynb", name, new)
    return dest
