"""Source code of effdl's functions and classes, as solutions and as student skeletons.

Solution notebooks show effdl's own source (one implementation); the student version keeps
each function's signature and docstring and replaces its body with a placeholder that raises
NotImplementedError. Classes keep their structure: each method listed is skeletonized.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from typing import Any

PLACEHOLDER = "raise NotImplementedError({message!r})"


def resolve(qualname: str) -> Any:
    """'effdl.distributed:closed_form' -> the object (module:attribute)."""
    module_name, _, attr = qualname.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def solution_source(qualname: str) -> str:
    """The complete source of a function or class, dedented, without trailing blank lines."""
    return textwrap.dedent(inspect.getsource(resolve(qualname))).rstrip() + "\n"


def _body_start(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """0-based index of the first body line after the docstring (source-relative lines)."""
    body = node.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[0].end_lineno  # the line after the docstring (1-based end -> 0-based next)
    return body[0].lineno - 1


def _skeleton_lines(lines: list[str], node: ast.AST, message: str) -> list[str]:
    """Replace the body of a function node (after its docstring) with the placeholder."""
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    start = _body_start(node)
    end = node.end_lineno
    indent = " " * (node.body[0].col_offset)
    placeholder = [
        indent + "# Your code here.\n",
        indent + PLACEHOLDER.format(message=message) + "\n",
    ]
    return lines[:start] + placeholder + lines[end:]


def skeleton_source(qualname: str, methods: tuple[str, ...] = ()) -> str:
    """The student's version: signature and docstring kept, body a NotImplementedError.

    For a function, its body is replaced. For a class, each method named in `methods` is
    replaced and everything else (other methods, class docstring) is kept.
    """
    source = solution_source(qualname)
    tree = ast.parse(source)
    top = tree.body[0]
    name = qualname.partition(":")[2]
    lines = source.splitlines(keepends=True)
    if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
        return "".join(_skeleton_lines(lines, top, f"write {name}")).rstrip() + "\n"
    if not isinstance(top, ast.ClassDef):
        raise TypeError(f"{qualname} is neither a function nor a class")
    targets = [n for n in top.body if isinstance(n, ast.FunctionDef) and n.name in methods]
    missing = set(methods) - {n.name for n in targets}
    if missing:
        raise ValueError(f"{qualname} has no methods {sorted(missing)}")
    for node in sorted(targets, key=lambda n: n.lineno, reverse=True):
        lines = _skeleton_lines(lines, node, f"write {name}.{node.name}")
    return "".join(lines).rstrip() + "\n"


def body_lines(qualname: str) -> list[str]:
    """The solution's body lines after the docstring (stripped, non-trivial): what a student
    bundle must never contain."""
    source = solution_source(qualname)
    tree = ast.parse(source)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for stmt in node.body[(1 if ast.get_docstring(node) else 0) :]:
                segment = ast.get_source_segment(source, stmt) or ""
                for line in segment.splitlines():
                    line = line.strip()
                    if len(line) > 25 and not line.startswith(("#", "return None", "raise ")):
                        out.append(line)
    return out


def module_parts(module_name: str, names: tuple[str, ...] | list[str]) -> str:
    """The top-level definitions (functions, classes, constants) of a module named in
    `names`, in source order and with their decorators, as one block of code."""
    module = importlib.import_module(module_name)
    source = inspect.getsource(module)
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    wanted = set(names)
    blocks = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined = {node.name}
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined = {t.id for t in targets if isinstance(t, ast.Name)}
            start = node.lineno
        else:
            continue
        if defined & wanted:
            blocks.append("".join(lines[start - 1 : node.end_lineno]).rstrip())
            wanted -= defined
    if wanted:
        raise ValueError(f"{module_name} does not define {sorted(wanted)} at top level")
    return "\n\n\n".join(blocks) + "\n"
