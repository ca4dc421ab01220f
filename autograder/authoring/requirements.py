"""A bundle's requirements.txt, read off the imports of its own code.

Every code cell of the notebook and every support module of the bundle is parsed with `ast`;
each import of a module that is neither the standard library's nor one of the bundle's own
files is mapped to the installed distribution that provides it, with the installed version as
its lower bound. The file therefore lists exactly what the rendered code imports, and changes
when the code does: there is no hand-kept list to drift.

An import is optional when the code already copes without it: inside a `try` whose handler
catches ImportError (ModuleNotFoundError, Exception, or a bare except), or on a line that says
`# optional: <what for>`. Optional ones are written as comments, with where they are imported
and what for, so that `pip install -r requirements.txt` installs only what the notebook needs.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass

OPTIONAL = re.compile(r"#\s*optional\b:?\s*(.*)$")
CATCHES_IMPORT_ERROR = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


class RequirementsError(ValueError):
    """The bundle's code imports something that no installed distribution provides."""


@dataclass(frozen=True)
class Imported:
    """One import of a third-party module: its top-level name, where it is, and whether the
    code runs without it (with the reason the code gives, if any)."""

    module: str
    where: str
    optional: bool
    why: str = ""


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        kinds = handler.type
        names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
        if kinds is None or any(
            isinstance(n, ast.Name) and n.id in CATCHES_IMPORT_ERROR for n in names
        ):
            return True
    return False


def imports_of(source: str, where: str) -> list[Imported]:
    """The absolute imports of one piece of code, each marked optional or not."""
    tree = _parse(source, where)
    lines = source.splitlines()
    found: list[Imported] = []

    def visit(node: ast.AST, guarded: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = guarded
            if isinstance(node, ast.Try) and child in node.body and _catches_import_error(node):
                inside = True
            modules: list[str] = []
            if isinstance(child, ast.Import):
                modules = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                modules = [child.module]
            if modules:
                text = " ".join(lines[child.lineno - 1 : child.end_lineno])
                marker = OPTIONAL.search(text)
                why = marker.group(1).strip() if marker else ""
                for module in modules:
                    top = module.partition(".")[0]
                    line = f"{where}, line {child.lineno}"
                    found.append(Imported(top, line, inside or marker is not None, why))
            visit(child, inside)

    visit(tree, False)
    return found


def _parse(source: str, where: str) -> ast.Module:
    """The code's tree; a cell with IPython syntax (magics, shell lines) is read as IPython
    reads it, where IPython is installed."""
    try:
        return ast.parse(source)
    except SyntaxError as first:
        try:
            from IPython.core.inputtransformer2 import TransformerManager
        except ImportError:
            msg = f"{where}: not Python ({first.msg}, line {first.lineno})"
            raise RequirementsError(msg) from None
        try:
            return ast.parse(TransformerManager().transform_cell(source))
        except SyntaxError as exc:
            msg = f"{where}: not Python ({exc.msg}, line {exc.lineno})"
            raise RequirementsError(msg) from None


def bundle_sources(files: dict[str, bytes], notebook: str) -> list[tuple[str, str]]:
    """(where, code) for every code cell of the notebook and every .py file of the bundle."""
    sources = []
    nb = json.loads(files[notebook])
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code":
            text = cell.get("source", "")
            sources.append(
                (f"{notebook} cell {index}", "".join(text) if isinstance(text, list) else text)
            )
    for rel in sorted(files):
        if rel.endswith(".py"):
            sources.append((rel, files[rel].decode("utf-8")))
    return sources


def third_party(imports: Iterable[Imported], local: set[str]) -> list[Imported]:
    """The imports that are neither the standard library's nor the bundle's own modules."""
    skip = set(sys.stdlib_module_names) | local | {"__future__"}
    return [i for i in imports if i.module not in skip]


def distribution_of(module: str, where: str) -> str:
    """The installed distribution that provides the top-level module `module`."""
    candidates = sorted(set(_providers().get(module, [])))
    if not candidates:
        raise RequirementsError(
            f"{where} imports {module!r}, which no installed distribution provides: install it "
            "where the bundles are built (its version becomes the bundle's lower bound)"
        )
    if len(candidates) > 1:
        same = [c for c in candidates if _normal(c) == _normal(module)]
        if len(same) != 1:
            raise RequirementsError(
                f"{where} imports {module!r}, which several installed distributions provide "
                f"({', '.join(candidates)}): keep only the one the bundle needs"
            )
        return same[0]
    return candidates[0]


@functools.cache
def _providers() -> dict[str, list[str]]:
    """Top-level module -> the installed distributions that provide it (read once: it walks
    every installed distribution's file list)."""
    return importlib.metadata.packages_distributions()


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lower_bound(distribution: str) -> str:
    """`name>=version` with the installed version (without a local label such as +cpu)."""
    version = importlib.metadata.version(distribution).partition("+")[0]
    return f"{_normal(distribution)}>={version}"


def requirements_txt(files: dict[str, bytes], notebook: str) -> str:
    """The requirements.txt of a bundle (relative path -> bytes) whose notebook is `notebook`."""
    local = {rel[: -len(".py")] for rel in files if rel.endswith(".py") and "/" not in rel}
    local |= {rel.partition("/")[0] for rel in files if rel.endswith("/__init__.py")}
    imports = third_party(
        [i for where, code in bundle_sources(files, notebook) for i in imports_of(code, where)],
        local,
    )
    needed: dict[str, str] = {}  # distribution -> where first imported
    optional: dict[str, tuple[str, str]] = {}  # distribution -> (where, why)
    for item in imports:
        dist = distribution_of(item.module, item.where)
        if not item.optional:
            needed.setdefault(dist, item.where)
        elif dist not in optional or (item.why and not optional[dist][1]):
            optional[dist] = (item.where.partition(",")[0], item.why)
    lines = [
        f"# What {notebook} and its support files import (read off their code when the",
        "# bundle was built; each lower bound is the version it was built and tested with).",
        "# Install: pip install -r requirements.txt; then open the notebook in Jupyter,",
        "# VS Code or Colab.",
    ]
    lines += sorted(lower_bound(dist) for dist in needed)
    rest = sorted((d, w) for d, w in optional.items() if d not in needed)
    if rest:
        lines += ["", "# Optional: imported only where needed (remove the '# ' to install)."]
        for dist, (where, why) in rest:
            note = f"{where}: {why}" if why else f"{where}, which runs without it"
            lines.append(f"# {lower_bound(dist)}  # {note}")
    return "\n".join(lines) + "\n"
