"""Every formula of every bundle's notebook typesets: each `$...$` and `$$...$$` span of every
markdown cell (text and written answers, student and solution bundles alike) goes through a
TeX parser that must accept it.

Two parsers: KaTeX through Node, where `node` can load the `katex` package (it is strict: an
unknown command or an unbalanced brace is an error, as in the browser), and pip's
latex2mathml, which is always there but lenient, so its run also checks what it lets pass:
braces balance (outside `\\{` and `\\}`), `\\left` and `\\right` pair up, and every control
word is one it knows."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from autograder import plugin
from autograder.cells import cell_text

ROOT = Path(__file__).resolve().parents[1]
NAMES = plugin.names()
BUNDLES = [(kind, name) for name in NAMES for kind in ("assignments", "solutions")]

CODE = re.compile(r"```.*?```|(`+)(?:(?!\1).)+?\1", re.S)
MATH = re.compile(r"(?<!\\)\$\$(.+?)\$\$|(?<!\\)\$((?:\\.|[^$\\])+?)\$", re.S)
KATEX_RUNNER = r"""
const katex = require("katex");
const formulas = JSON.parse(require("fs").readFileSync(0, "utf8"));
const errors = formulas.map(([tex, display]) => {
  try {
    katex.renderToString(tex, {displayMode: display, throwOnError: true, strict: "error"});
    return null;
  } catch (e) {
    return String(e.message);
  }
});
process.stdout.write(JSON.stringify(errors));
"""


def formulas(markdown: str) -> tuple[list[tuple[str, bool]], list[str]]:
    """The (TeX, display?) spans of a markdown text outside code, and the problems found while
    reading them (a `$` left without its partner)."""
    text = CODE.sub(" ", markdown)
    found = [
        (m.group(1), True) if m.group(1) is not None else (m.group(2), False)
        for m in MATH.finditer(text)
    ]
    rest = MATH.sub(" ", text)
    problems = [] if "$" not in rest.replace(r"\$", "") else ["a $ without its closing $"]
    return found, problems


def notebook_formulas(folder: Path, name: str) -> list[tuple[str, str, bool]]:
    """(where, TeX, display?) for every formula of the bundle's notebook; a span that cannot be
    read comes back with the problem as its TeX and where marked 'unreadable'."""
    nb = json.loads((folder / plugin.get(name).notebook).read_text(encoding="utf-8"))
    out = []
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "markdown":
            continue
        spans, problems = formulas(cell_text(cell))
        out += [(f"cell {index}", tex, display) for tex, display in spans]
        out += [(f"cell {index} unreadable", problem, False) for problem in problems]
    return out


@cache
def katex_path() -> str | None:
    """NODE_PATH under which `node` loads katex, or None (no node, or no katex for it)."""
    if shutil.which("node") is None:
        return None
    roots = [os.environ.get("NODE_PATH", ""), str(ROOT / "node_modules")]
    if shutil.which("npm"):
        proc = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, timeout=60)
        roots.append(proc.stdout.strip())
    roots += ["/usr/lib/node_modules", "/usr/local/lib/node_modules", "/usr/share/nodejs"]
    path = os.pathsep.join(r for r in roots if r)
    probe = subprocess.run(
        ["node", "-e", "require('katex')"],
        env={**os.environ, "NODE_PATH": path},
        capture_output=True,
        timeout=60,
    )
    return path if probe.returncode == 0 else None


def katex_errors(spans: list[tuple[str, bool]]) -> list[str | None]:
    """KaTeX's error message for each (TeX, display?) span, None where it typesets."""
    proc = subprocess.run(
        ["node", "-e", KATEX_RUNNER],
        input=json.dumps(spans),
        env={**os.environ, "NODE_PATH": katex_path() or ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@cache
def latex2mathml_words() -> frozenset[str]:
    """Every control word latex2mathml knows: its commands and its symbol table."""
    from latex2mathml import commands, symbols_parser

    known: set[str] = set(symbols_parser.SYMBOLS)

    def collect(value: object) -> None:
        if isinstance(value, str) and value.startswith("\\"):
            known.add(value)
        elif isinstance(value, tuple | list | set | frozenset):
            for item in value:
                collect(item)
        elif isinstance(value, dict):
            for key in value:
                collect(key)

    for value in vars(commands).values():
        collect(value)
    return frozenset(known)


def latex2mathml_error(tex: str) -> str | None:
    """Why latex2mathml (with the checks it skips) refuses `tex`, or None."""
    from latex2mathml.converter import convert

    depth = 0
    for token in re.findall(r"\\[A-Za-z]+|\\.|[{}]", tex):
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                return "a } closes nothing"
        elif re.fullmatch(r"\\[A-Za-z]+", token) and token not in latex2mathml_words():
            return f"unknown command {token}"
    if depth:
        return f"{depth} {{ left open"
    if len(re.findall(r"\\left\b", tex)) != len(re.findall(r"\\right\b", tex)):
        return "\\left and \\right do not pair up"
    try:
        convert(tex)
    except Exception as exc:  # latex2mathml's errors have no common base class
        return f"{type(exc).__name__}: {exc}"
    return None


def _report(folder: Path, name: str, errors: list[tuple[str, str, str]]) -> str:
    return f"{folder.relative_to(ROOT)}: {len(errors)} formulas do not typeset:\n" + "\n".join(
        f"  {where}: ${tex}$  ({why})" for where, tex, why in errors
    )


@pytest.mark.parametrize(("kind", "name"), BUNDLES)
def test_every_formula_typesets_with_katex(kind: str, name: str) -> None:
    if katex_path() is None:
        pytest.skip(
            "no node with the katex package here (npm install -g katex); "
            "the latex2mathml test still runs"
        )
    folder = ROOT / kind / name
    found = notebook_formulas(folder, name)
    assert found, f"{name}: no formulas found (the reader is broken)"
    unreadable = [(w, t, "unreadable") for w, t, _ in found if w.endswith("unreadable")]
    spans = [(w, t, d) for w, t, d in found if not w.endswith("unreadable")]
    messages = katex_errors([(tex, display) for _, tex, display in spans])
    errors = unreadable + [(w, t, m) for (w, t, _), m in zip(spans, messages) if m is not None]
    assert not errors, _report(folder, name, errors)


@pytest.mark.parametrize(("kind", "name"), BUNDLES)
def test_every_formula_parses_with_latex2mathml(kind: str, name: str) -> None:
    folder = ROOT / kind / name
    found = notebook_formulas(folder, name)
    assert found, f"{name}: no formulas found (the reader is broken)"
    errors = []
    for where, tex, _ in found:
        why = "unreadable" if where.endswith("unreadable") else latex2mathml_error(tex)
        if why is not None:
            errors.append((where, tex, why))
    assert not errors, _report(folder, name, errors)


@pytest.mark.parametrize(
    "tex",
    [r"T \in \{1, 2, 5}", r"\frac{a}{b", r"\sgin(x)", r"\left( x", r"x^{2}}"],
)
def test_the_parsers_refuse_broken_formulas(tex: str) -> None:
    assert latex2mathml_error(tex) is not None
    if katex_path() is not None:
        assert katex_errors([(tex, False)]) != [None]


def test_the_reader_finds_inline_and_display_spans_outside_code() -> None:
    text = "Let $a = 1$ and `$not math$`, then\n$$\\sum_i x_i$$ costs \\$5 and $b$."
    spans, problems = formulas(text)
    assert spans == [("a = 1", False), ("\\sum_i x_i", True), ("b", False)]
    assert problems == []
    assert formulas("an open $x + 1")[1] == ["a $ without its closing $"]
