"""Which of a notebook's code the harness runs: its cells cut into top-level statements.

Cells whose role is answer or setup run whole; untagged cells (a student may lose tags by
copying cells) keep only imports, definitions and assignments; cells with any other role
(experiment, public-check) do not run. This is parsing, not running: nothing of the
submission executes here; the harness compiles and runs each statement in the sandbox, each
with its own time budget.

IPython syntax is read by IPython's own input transformer, as a notebook kernel reads it:
`%magic` and `%%cell magic` lines, `!shell` lines, `x = !cmd`, `obj?` help, prompts pasted
with the code, and lines that only look like magics (a `%` format continued on the next line
inside parentheses) all become what IPython makes of them. The Python that comes out calls
get_ipython(), which the harness gives the notebook's namespace (sandbox/harness/ipython.py):
shell commands never run there. The bodies of `%%time` and `%%capture` cells, and the code
of a top-level `%time` line, run as statements of their cell (each with its own budget, so
that a slow experiment in a timed cell does not take the cell's definitions with it).
A `%%writefile` cell writes its file in the sandbox's work folder, in untagged cells too,
since it defines a module. Cells that are plain Python are used as they are.

IPython's transformer tokenizes the whole cell again for each IPython line it rewrites, so a
cell of many such lines costs lines x size on the trusted side, outside every sandbox limit
(600 `!` lines in 62 KB took 83 s). What it may read is therefore budgeted: IPYTHON_CHARS
characters per notebook read (about 2 s here, a hundred times what a real notebook needs); a
cell beyond it is not converted and a note says so.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
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
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)
# Magics whose code runs in the notebook's namespace: their code becomes the cell's statements.
UNWRAPPED_CELL_MAGICS = ("time", "capture")
UNWRAPPED_LINE_MAGICS = ("time",)
# Magics that change nothing a graded function depends on: no note when they are met.
QUIET_MAGICS = frozenset({
    "matplotlib", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport", "config",
    "precision", "time", "timeit", "capture", "pinfo", "pinfo2", "psearch", "who", "whos",
    "who_ls", "lsmagic", "magic", "pwd", "history", "xmode", "pprint", "page", "pdef", "pdoc",
    "psource", "pfile", "doctest_mode", "colors", "notebook", "writefile", "file",
})  # fmt: skip
MAX_MAGIC_NOTES = 10
MAX_NESTING = 5
IPYTHON_CHARS = 1_000_000  # characters IPython's transformer may tokenize per notebook read


@dataclass
class IPythonBudget:
    """What IPython's transformer may still tokenize, in characters (one per notebook read)."""

    chars: int = IPYTHON_CHARS


class IPythonTooCostly(ValueError):
    """Converting a cell's IPython syntax would go past the notebook's budget."""


def split_statements(
    cells: list[dict[str, Any]], budget: IPythonBudget | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Cells [{index, role, source}] -> (statements [{cell, line, role, code, definition}],
    notes on what was left out). `line` is the statement's first line in its cell."""
    budget = budget or IPythonBudget()
    statements: list[dict[str, Any]] = []
    notes: list[str] = []
    magic_notes: list[str] = []
    for cell in cells:
        role = cell.get("role")
        if role not in RUN_WHOLE and role is not None:
            continue
        source = str(cell.get("source", ""))
        statements += _cell_statements(source, cell["index"], role, 0, notes, magic_notes, budget)
    notes += magic_notes[:MAX_MAGIC_NOTES]
    if len(magic_notes) > MAX_MAGIC_NOTES:
        notes.append(f"... and {len(magic_notes) - MAX_MAGIC_NOTES} more IPython lines not run")
    return statements, notes


def python_source(source: str, budget: IPythonBudget) -> tuple[ast.Module, str, int]:
    """A cell's code as Python: (its syntax tree, the Python text, how many lines IPython
    dropped from the top of the cell). Plain Python comes back as it is; anything else is
    what IPython's input transformer makes of it, within `budget`. Raises the parser's
    errors, and IPythonTooCostly."""
    try:
        return ast.parse(source), source, 0
    except SyntaxError:
        pass
    text = _ipython_transform(source, budget)
    if text is None or text == source:
        ast.parse(source)  # raises the original error
    lines = source.splitlines()
    shift = next((i for i, line in enumerate(lines) if line.strip()), 0)
    return ast.parse(text), str(text), shift


def written_definitions(cells: list[dict[str, Any]], budget: IPythonBudget | None = None) -> int:
    """How many top-level functions and classes the cells that run define with a body that is
    more than a stub (a docstring, `pass`, `...` or `raise NotImplementedError`): how much of
    a notebook was written, to choose among several notebooks."""
    budget = budget or IPythonBudget()
    count = 0
    for cell in cells:
        if cell.get("role") not in RUN_WHOLE and cell.get("role") is not None:
            continue
        try:
            tree = python_source(str(cell.get("source", "")), budget)[0]
        except PARSE_ERRORS:
            continue
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        count += sum(isinstance(n, kinds) and not _stub(n) for n in tree.body)
    return count


def _stub(node: ast.stmt) -> bool:
    """A definition that does nothing yet: a skeleton's body, or a class of such methods."""
    if isinstance(node, ast.ClassDef):
        methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        return all(_stub(m) for m in methods) if methods else _stub_body(node.body)
    return _stub_body(getattr(node, "body", []))


def _stub_body(body: list[ast.stmt]) -> bool:
    for stmt in body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring or `...`
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                continue
        return False
    return True


def _ipython_transform(source: str, budget: IPythonBudget) -> str | None:
    """IPython's own reading of a cell, or None when IPython cannot read it. Each of the
    transformer's passes over the cell is charged to `budget`; IPythonTooCostly when spent."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return None
    manager = TransformerManager()
    one_pass = manager.do_one_token_transform

    def charged(lines: list[str]) -> Any:
        budget.chars -= sum(map(len, lines))
        if budget.chars < 0:
            raise IPythonTooCostly("converting this notebook's IPython syntax reads too much")
        return one_pass(lines)

    manager.do_one_token_transform = charged  # type: ignore[method-assign]
    try:
        return manager.transform_cell(source)
    except IPythonTooCostly:
        raise
    except Exception:  # IPython's tokenizer gives up on some broken cells
        return None


def _cell_statements(
    source: str,
    index: int,
    role: str | None,
    offset: int,
    notes: list[str],
    magic_notes: list[str],
    budget: IPythonBudget,
    depth: int = 0,
) -> list[dict[str, Any]]:
    """The statements of one cell's code (or of a magic's body, whose first line is line
    `offset` + 1 of the cell)."""
    try:
        tree, text, shift = python_source(source, budget)
    except IPythonTooCostly:
        notes.append(
            f"cell {index}: its IPython syntax was not converted, so none of it runs: the "
            f"notebook's IPython lines would take the grader more than {IPYTHON_CHARS:,} "
            "characters of reading (each such line makes IPython read its whole cell again); "
            "put shell commands and magics in small cells of their own"
        )
        return []
    except SyntaxError as exc:
        notes.append(f"cell {index}: syntax error at line {offset + (exc.lineno or 0)}: {exc.msg}")
        return []
    except PARSE_ERRORS as exc:  # null bytes, nesting too deep for the parser
        notes.append(f"cell {index}: could not be read as Python ({type(exc).__name__})")
        return []
    offset += shift
    out: list[dict[str, Any]] = []
    lines = text.encode("utf-8", "surrogatepass").splitlines(keepends=True)
    for node in tree.body:
        inner = _unwrapped_magic(node) if depth < MAX_NESTING else None
        if inner is not None:
            body, cell_magic, binding = inner
            if binding and role is not None:  # %%capture NAME: NAME exists, as after IPython
                code = f"get_ipython().run_cell_magic('capture', {binding!r}, '')"
                out.append(_statement(index, offset + node.lineno, role, code, False))
            start = offset + node.lineno - (0 if cell_magic else 1)
            out += _cell_statements(body, index, role, start, notes, magic_notes, budget, depth + 1)
            continue
        if role is None and not (isinstance(node, DEFINITION_NODES) or _writes_file(node)):
            continue
        if isinstance(node, ast.Pass):
            continue
        _note_ipython_calls(node, index, offset, magic_notes)
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        code = _segment(lines, node, first)
        out.append(
            _statement(index, first + offset, role, code, isinstance(node, DEFINITIONS_ONLY))
        )
    return out


def _statement(cell: int, line: int, role: str | None, code: str, definition: bool) -> dict:
    return {"cell": cell, "line": line, "role": role, "code": code, "definition": definition}


def _ipython_call(node: ast.AST) -> tuple[str, list[Any]] | None:
    """(method, constant arguments) of a call get_ipython().method('...', ...), else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    owner = node.func.value
    if not (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "get_ipython"
        and not owner.args
    ):
        return None
    args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
    return node.func.attr, args


def _unwrapped_magic(node: ast.stmt) -> tuple[str, bool, str] | None:
    """(code, is a cell magic, the name %%capture keeps its output in) of a top-level
    %%time / %%capture cell or %time line, else None."""
    call = _ipython_call(node.value) if isinstance(node, ast.Expr) else None
    if call is None:
        return None
    method, args = call
    if method == "run_cell_magic" and len(args) == 3 and args[0] in UNWRAPPED_CELL_MAGICS:
        if not (isinstance(args[1], str) and isinstance(args[2], str)):
            return None
        names = [w for w in args[1].split() if not w.startswith("-")]
        binding = names[0] if args[0] == "capture" and names and names[0].isidentifier() else ""
        return args[2], True, binding
    if method == "run_line_magic" and len(args) == 2 and args[0] in UNWRAPPED_LINE_MAGICS:
        return (args[1], False, "") if isinstance(args[1], str) else None
    return None


def _writes_file(node: ast.stmt) -> bool:
    """A %%writefile cell: it defines a module the notebook may import, so it runs in cells
    without a role tag too (a student's own new cells have none)."""
    call = _ipython_call(node.value) if isinstance(node, ast.Expr) else None
    return (
        call is not None
        and call[0] == "run_cell_magic"
        and call[1][:1] in (["writefile"], ["file"])
    )


def _note_ipython_calls(node: ast.stmt, index: int, offset: int, notes: list[str]) -> None:
    """Say which shell commands and magics of a statement the grader does not run."""
    for sub in ast.walk(node):
        call = _ipython_call(sub)
        if call is None:
            continue
        method, args = call
        name = args[0] if args and isinstance(args[0], str) else "?"
        where = f"cell {index}, line {offset + getattr(sub, 'lineno', 1)}"
        if method in ("system", "getoutput"):
            notes.append(
                f"{where}: the shell command !{name[:60]} was not run (never by the grader)"
            )
        elif method == "run_line_magic" and name not in QUIET_MAGICS:
            notes.append(f"{where}: the magic %{name} was not run by the grader")
        elif method == "run_cell_magic" and name not in QUIET_MAGICS:
            notes.append(f"{where}: the cell magic %%{name} was not run by the grader")


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
