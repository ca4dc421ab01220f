"""Sample submissions made from a solution bundle by swapping in wrong definitions.

A sample is a Python file in an assignment plug-in's samples/ folder holding the wrong definition(s) and a
header line:

    # effdl-sample: replaces=closed_form expect_lost=a2.closed_form

`replaces` names the functions or classes it swaps into the solution (in the notebook, or in
the support file given by `in=module.py`); `expect_lost` names the checks that must lose points,
and no other check may (none: the sample must get full marks). `message_contains="text"`
(repeatable) is text the feedback of the lost checks must contain. Values with spaces are
quoted as in a shell; other `key=value` fields are kept in `fields` for the tools that use
them. The module docstring says which mistake it makes.
"""

from __future__ import annotations

import ast
import json
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder import plugin
from autograder.cells import cell_text

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
    message_contains: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()

    def field(self, key: str, default: str | None = None) -> str | None:
        """The value of another header field, e.g. sample.field("build")."""
        return dict(self.fields).get(key, default)


def _definition(source: str, name: str) -> tuple[int, int] | None:
    """0-based [start, end) line range of the top-level def/class `name`, decorators included,
    or of a top-level assignment to `name` (TF_ANSWERS = {...})."""
    for node in ast.parse(source).body:
        kinds = ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef
        if isinstance(node, kinds) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return start - 1, node.end_lineno
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return node.lineno - 1, node.end_lineno
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


def parse_header(text: str, header: str = HEADER) -> list[tuple[str, str]]:
    """The key=value items of the first line starting with `header`, in order."""
    line = next((line for line in text.splitlines() if line.startswith(header)), None)
    if line is None:
        raise ValueError(f"no '{header}' line")
    items = []
    for item in shlex.split(line[len(header) :]):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"header item {item!r} is not key=value")
        items.append((key, value))
    return items


def load(path: Path, assignment: str, header: str = HEADER) -> Sample:
    text = path.read_text(encoding="utf-8")
    try:
        items = parse_header(text, header)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    fields = dict(items)
    doc = ast.get_docstring(ast.parse(text)) or ""
    known = ("replaces", "in", "expect_lost", "message_contains")
    return Sample(
        name=path.stem,
        assignment=assignment,
        path=path,
        replaces=tuple(x for x in fields.get("replaces", "").split(",") if x),
        target=fields.get("in"),
        expect_lost=tuple(x for x in fields.get("expect_lost", "").split(",") if x),
        description=doc.splitlines()[0] if doc else "",
        message_contains=tuple(v for k, v in items if k == "message_contains"),
        fields=tuple((k, v) for k, v in items if k not in known),
    )


def samples(assignment: str, root: Path | None = None, header: str = HEADER) -> list[Sample]:
    """The samples of an assignment under root/<assignment>/ (by default: its plug-in's
    samples/ folder)."""
    folder = plugin.get(assignment).samples_dir if root is None else root / assignment
    if not folder.is_dir():
        return []
    return [load(p, assignment, header) for p in sorted(folder.glob("*.py"))]


def swap_in_notebook(notebook: Path, name: str, new: str) -> None:
    """Replace the definition of `name` in whichever code cell defines it."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        source = cell_text(cell)
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
