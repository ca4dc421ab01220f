"""The layout's rules, read from the code's imports (DESIGN.md, "Rules the layout keeps").

- effdl never imports the grader;
- the harness, and every assignment's sandbox fixtures, import only the standard library,
  numpy and torch (and the harness's own modules);
- hidden checks never import code that runs student code or reads submissions: only the
  check framework, effdl, their plug-in's fixtures and the science libraries;
- no platform module names an assignment; no module imports one that imports it back;
- the harness is a package of small modules.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from autograder import plugin

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = ROOT / "autograder"
HARNESS = PLATFORM / "sandbox" / "harness"
SCIENCE = {"numpy", "torch"}
STDLIB = set(sys.stdlib_module_names)


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT / "lib" if path.is_relative_to(ROOT / "lib") else ROOT)
    parts = list(rel.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """Every import of a file, also those inside functions: (module, names, level)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", [a.name for a in node.names], node.level))
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_effdl_never_imports_the_grader() -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _python_files(ROOT / "lib" / "effdl")
        for module, _, level in _imports(path)
        if level == 0 and _top(module) == "autograder"
    ]
    assert not bad


SANDBOX_CODE = [HARNESS, *(m.fixtures_dir for m in plugin.registry().values() if m.fixtures_dir)]


@pytest.mark.parametrize("folder", SANDBOX_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_sandbox_code_imports_only_stdlib_numpy_and_torch(folder: Path) -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {module or '.'}"
        for path in _python_files(folder)
        for module, _, level in _imports(path)
        if level == 0 and _top(module) not in STDLIB | SCIENCE
    ]
    assert not bad, "code that runs next to student code may not import this:\n" + "\n".join(bad)
    assert [p for p in _python_files(folder) if p.name != "__init__.py"], "nothing was read"


def test_the_zygote_runs_on_the_standard_library_alone() -> None:
    """zygote.py runs as a script in a bare interpreter (no project on its path), and what it
    imports before a fork is in every submission's process: the standard library only, the
    assignment's pre-imports coming by name from the grader, and the harness, which the
    supervisor's process imports from the job's folder inside the sandbox."""
    zygote = ROOT / "autograder" / "sandbox" / "zygote.py"
    allowed = STDLIB | {"harness"}
    bad = [m or "." for m, _, level in _imports(zygote) if level or _top(m) not in allowed]
    assert not bad, f"zygote.py imports {bad}"


def test_harness_modules_are_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in _python_files(HARNESS)}
    assert len(sizes) >= 8 and max(sizes.values()) < 400, sizes


@pytest.mark.parametrize("manifest", plugin.registry().values(), ids=lambda m: m.name)
def test_checks_import_only_the_framework_effdl_and_their_fixtures(manifest) -> None:
    allowed = ("autograder.checking", "effdl", f"{manifest.package}.sandbox")
    bad = []
    files = sorted(manifest.checks_dir.glob("test_*.py"))
    assert files
    for path in files:
        for module, _, level in _imports(path):
            if level or _top(module) in STDLIB | SCIENCE:
                continue
            if not any(module == a or module.startswith(a + ".") for a in allowed):
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not bad, "\n".join(bad)


def _names_of_assignments() -> set[str]:
    names = set()
    for m in plugin.registry().values():
        names |= {m.name, m.name.replace("-", "_"), m.package.rpartition(".")[2]}
        names |= {Path(f).stem for f in m.submitted_modules + m.given_modules}
    return names


def test_no_platform_module_names_an_assignment() -> None:
    names = _names_of_assignments()
    assert {"distributed-sparse", "prune-quantize", "FP_layers"} <= names  # the test sees them
    platform = [
        p
        for p in PLATFORM.rglob("*")
        if p.is_file()
        and p.suffix in (".py", ".j2", ".html", ".css", ".toml")
        and not p.is_relative_to(PLATFORM / "plugins")
        and "__pycache__" not in p.parts
    ]
    assert len(platform) > 40
    bad = [
        f"{p.relative_to(ROOT)} names {name!r}"
        for p in platform
        for name in names
        if name in p.read_text(encoding="utf-8")
    ]
    assert not bad, "\n".join(bad)


def _graph() -> dict[str, set[str]]:
    """module -> the autograder modules it imports (a submodule named in `from package
    import name` counts as that submodule; a package's own modules importing it do not)."""
    modules = {_module_name(p): p for p in _python_files(PLATFORM)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for module, imported, level in _imports(path):
            if level:
                base = package.rsplit(".", level - 1)[0] if level > 1 else package
                module = f"{base}.{module}" if module else base
            if _top(module) != "autograder":
                continue
            targets = [f"{module}.{n}" for n in imported if f"{module}.{n}" in modules]
            if len(targets) < len(imported) or not imported:
                targets.append(module)
            for target in targets:
                if target in modules and not (name.startswith(target + ".") and target != name):
                    edges.add(target)
        graph[name] = edges - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = _graph()
    assert len(graph) > 50 and sum(len(e) for e in graph.values()) > 100
    assert not _cycles(graph)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
