"""What students read names only what they have: no module of the course kit (effdl,
autograder), no grader internals, no function of the reference library that their bundle does
not hold; and no public check leaves a bare value (True, False, a number) as its cell's output.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
from functools import cache
from pathlib import Path

import pytest

import effdl
from autograder import plugin
from autograder.cells import cell_text, code_role

ROOT = Path(__file__).resolve().parents[1]
NAMES = plugin.names()
INTERNAL = re.compile(
    r"\beffdl\b|\bautograder[./]|\bharness\b|\bsandbox\b|\banswer_key\b|\bstaff_notes?\b|"
    r"\bselftest\b|\bmutants?\b|\bchecks/"
)
TICKED = re.compile(r"``?([A-Za-z_][\w.]*)``?")


def _student_texts(name: str) -> list[tuple[str, str]]:
    """(where, text) for everything a student reads in the bundle: every cell of the
    notebook, every text file beside it (support modules, requirements.txt)."""
    folder = ROOT / "assignments" / name
    nb = json.loads((folder / plugin.get(name).notebook).read_text(encoding="utf-8"))
    texts = [(f"cell {i}", cell_text(c)) for i, c in enumerate(nb["cells"])]
    for path in sorted(folder.iterdir()):
        if path.suffix in (".py", ".txt", ".md"):
            texts.append((path.name, path.read_text(encoding="utf-8")))
    return texts


def _defined(name: str) -> set[str]:
    """Every name the student bundle's code defines, binds, imports or mentions as an
    attribute, and the bundle's file names."""
    folder = ROOT / "assignments" / name
    names = {p.name for p in folder.iterdir()} | {p.stem for p in folder.glob("*.py")}
    for where, text in _student_texts(name):
        if not (where.endswith(".py") or where.startswith("cell")):
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:  # a markdown cell
            continue
        for node in ast.walk(tree):
            for attr in ("name", "id", "arg", "attr", "asname"):
                value = getattr(node, attr, None)
                if isinstance(value, str):
                    names.add(value)
    return names


@cache
def _library_names() -> frozenset[str]:
    """The public functions and classes of every effdl module."""
    found = set()
    for info in pkgutil.walk_packages(effdl.__path__, "effdl."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # a module for an optional dependency
            continue
        for key, value in vars(module).items():
            if key.startswith("_") or not (inspect.isfunction(value) or inspect.isclass(value)):
                continue
            if getattr(value, "__module__", "") == info.name:
                found.add(key)
    return frozenset(found)


@pytest.mark.parametrize("name", NAMES)
def test_student_text_names_no_course_kit_internals(name: str) -> None:
    found = [
        f"{where}: ...{text[max(0, m.start() - 40) : m.end() + 40]!r}..."
        for where, text in _student_texts(name)
        for m in INTERNAL.finditer(text)
    ]
    assert not found, "student-facing text names what students do not have:\n" + "\n".join(found)


@pytest.mark.parametrize("name", NAMES)
def test_student_text_names_only_library_functions_the_bundle_holds(name: str) -> None:
    defined = _defined(name)
    missing = sorted(
        {
            (where, token)
            for where, text in _student_texts(name)
            for token in TICKED.findall(text)
            if token.split(".")[-1] in _library_names()
            and not all(part in defined for part in token.split("."))
        }
    )
    assert not missing, f"{name}: text names functions the bundle does not hold: {missing}"


def _returns_nothing(function: ast.FunctionDef) -> bool:
    """Whether every return of a function (outside its nested functions) returns nothing."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        value = node.value if isinstance(node, ast.Return) else None
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            return False
        stack.extend(ast.iter_child_nodes(node))
    return True


@pytest.mark.parametrize("kind", ["assignments", "solutions"])
@pytest.mark.parametrize("name", NAMES)
def test_no_public_check_leaves_a_bare_value_as_its_output(kind: str, name: str) -> None:
    """Jupyter shows the value of a cell's last expression: a public check must end in a
    statement, a print, or a call of a notebook function that returns nothing."""
    folder = ROOT / kind / name
    nb = json.loads((folder / plugin.get(name).notebook).read_text(encoding="utf-8"))
    code = [(i, code_role(c), cell_text(c)) for i, c in enumerate(nb["cells"])]
    code = [(i, role, text) for i, role, text in code if role is not None]
    functions = {
        node.name: node
        for _, _, text in code
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef)
    }
    shown = []
    for index, role, text in code:
        if role != "public-check":
            continue
        last = ast.parse(text).body[-1]
        if not isinstance(last, ast.Expr):
            continue
        call = last.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
            if call.func.id == "print":
                continue
            if call.func.id in functions and _returns_nothing(functions[call.func.id]):
                continue
        shown.append(f"cell {index}: {ast.unparse(last)[:80]}")
    assert not shown, "public checks whose cell shows a value:\n" + "\n".join(shown)


def test_the_audit_sees_a_bad_name_and_a_bare_value() -> None:
    assert INTERNAL.search("the `effdl.models.FP_Conv` layer")
    assert not INTERNAL.search("set EFFDL_QUICK=1; the autograder calls your functions")
    assert "export_digits_npz" in _library_names()
    tree = ast.parse("def f():\n    if x:\n        return\n    return True\n")
    assert not _returns_nothing(tree.body[0])
    assert _returns_nothing(ast.parse("def g():\n    def h():\n        return 1\n").body[0])
