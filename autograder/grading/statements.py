"""Which of a notebook's code the harness runs: its cells cut into top-level statements.

Cells whose role is answer or setup run whole; untagged cells (a student may lose tags by
copying cells) keep only imports, definitions and assignments; cells with any other role
(experiment, public-check) do not run. IPython magics and shell lines are dropped. This is
parsing, not running: nothing of the submission executes here; the harness compiles and runs
each statement in the sandbox, each with its own time budget.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from autograder.cells import RUN_WHOLE

# Statement kinds that run in cells without a role tag (definitions, not experiments).
DEFINITION_NODES = (
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Assign,
    ast.AnnAssign,
)
# What still runs once many statements were skipped for hanging (see the harness supervisor).
DEFINITIONS_ONLY = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
MAGIC_LINE = re.compile(r"^\s*[%!]")
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)


def split_statements(cells: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Cells [{index, role, source}] -> (statements [{cell, line, role, code, definition}],
    notes on what was left out). `line` is the statement's first line in its cell."""
    statements: list[dict[str, Any]] = []
    notes: list[str] = []
    for cell in cells:
        role = cell.get("role")
        if role not in RUN_WHOLE and role is not None:
            continue
        source = str(cell.get("source", ""))
        if source.lstrip().startswith("%%"):
            first, _, rest = source.lstrip().partition("\n")
            if not first.startswith(("%%time", "%%capture")):
                notes.append(f"cell {cell['index']}: skipped its {first.split()[0]} cell magic")
                continue
            source = rest
        source = "\n".join(
            "pass" if MAGIC_LINE.match(line) else line for line in source.splitlines()
        )
        try:
            tree = ast.parse(source, filename=f"<cell {cell['index']}>")
        except SyntaxError as exc:
            notes.append(f"cell {cell['index']}: syntax error at line {exc.lineno}: {exc.msg}")
            continue
        except PARSE_ERRORS as exc:  # null bytes, nesting too deep for the parser
            notes.append(
                f"cell {cell['index']}: could not be read as Python ({type(exc).__name__})"
            )
            continue
        lines = source.encode("utf-8", "surrogatepass").splitlines(keepends=True)
        for node in tree.body:
            if role is None and not isinstance(node, DEFINITION_NODES):
                continue
            if isinstance(node, ast.Pass):
                continue
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            statements.append(
                {
                    "cell": cell["index"],
                    "line": first,
                    "role": role,
                    "code": _segment(lines, node, first),
                    "definition": isinstance(node, DEFINITIONS_ONLY),
                }
            )
    return statements, notes


def _segment(lines: list[bytes], node: ast.stmt, first: int) -> str:
    """The statement's source text from line `first` (its first decorator, if any) on: what
    ast.get_source_segment gives, without splitting the whole cell again for every statement.
    Column offsets count UTF-8 bytes."""
    chunk = lines[first - 1 : (node.end_lineno or node.lineno)]
    if not chunk:
        return ""
    if node.end_col_offset is not None:
        chunk[-1] = chunk[-1][: node.end_col_offset]
    if first == node.lineno:
        chunk[0] = chunk[0][node.col_offset :]
    return b"".join(chunk).decode("utf-8", "replace")
