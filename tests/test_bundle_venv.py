"""Each student bundle runs in a fresh virtual environment made from its requirements.txt
alone (`python -m venv`, `pip install -r requirements.txt`): with the solution's code in
place of the skeletons, every code cell of the notebook runs in order (the experiments with
their quick settings, EFFDL_QUICK=1) as a kernel would run it, no cell fails, every public
check passes and none leaves a bare value as its output; and the packages the file lists as
optional are not installed, so the notebook is shown to run without them.

Slow (marked `slow`; deselect with -m "not slow"): pip installs torch from this machine's
package index, about 70 s for a bundle that needs it; bundles that ask for the same packages
share one venv, which is deleted when the next bundle asks for others."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import plugin
from autograder.authoring.requirements import bundle_sources, imports_of, third_party
from autograder.cells import cell_text, code_role

ROOT = Path(__file__).resolve().parents[1]
NAMES = plugin.names()
PIP_SECONDS = 900
RUN_SECONDS = 600

RUNNER = r"""
import ast, contextlib, importlib.util, io, json, sys, traceback

cells = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
report = {"cells": [], "absent": {}}
for index, role, source in cells:
    buffer, shown, error = io.StringIO(), None, None
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            tree = ast.parse(source)
            last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            body = tree.body[:-1] if last is not None else tree.body
            exec(compile(ast.Module(body, []), f"<cell {index}>", "exec"), namespace)
            if last is not None:  # what a kernel would show as the cell's output
                value = eval(compile(ast.Expression(last.value), f"<cell {index}>", "eval"),
                             namespace)
                shown = None if value is None else repr(value)[:200]
        except BaseException:
            error = traceback.format_exc()[-3000:]
    report["cells"].append({"index": index, "role": role, "printed": buffer.getvalue()[-4000:],
                            "shown": shown, "error": error})
for module in sys.argv[3:]:
    report["absent"][module] = importlib.util.find_spec(module) is None
json.dump(report, open(sys.argv[2], "w", encoding="utf-8"))
"""


def requirement_lines(name: str) -> tuple[str, ...]:
    """What a bundle's requirements.txt asks pip for: its lines without comments, sorted."""
    text = (ROOT / "assignments" / name / "requirements.txt").read_text(encoding="utf-8")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return tuple(sorted(line for line in lines if line))


# bundles that ask for the same packages run one after the other, in one venv
NAMES = sorted(NAMES, key=lambda name: (requirement_lines(name), name))


@pytest.fixture(scope="module")
def venv_of(tmp_path_factory):
    """venv_of(name): the bin folder of a venv made from the student bundle's requirements.txt,
    and the seconds pip took (0 for a venv made before). Two bundles whose files ask for the same packages get the same
    venv (pip would install the same set into each); a venv (a few GB with torch) is deleted
    as soon as a bundle asks for another set, so the suite never holds more than one."""
    made: dict[tuple[str, ...], tuple[Path, float]] = {}

    def make(name: str) -> tuple[Path, float]:
        key = requirement_lines(name)
        if key in made:
            return made[key][0], 0.0  # pip's time was counted for the first bundle
        for folder, _ in made.values():
            shutil.rmtree(folder.parent, ignore_errors=True)
        made.clear()
        folder = tmp_path_factory.mktemp("venv") / name
        requirements = ROOT / "assignments" / name / "requirements.txt"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
        proc = subprocess.run(
            [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", "--no-input", "-r", str(requirements)],
            capture_output=True,
            text=True,
            timeout=PIP_SECONDS,
        )  # fmt: skip
        assert proc.returncode == 0, f"pip install -r {requirements}:\n{proc.stderr[-3000:]}"
        made[key] = (folder / "bin", time.perf_counter() - started)
        return made[key]

    yield make
    for folder, _ in made.values():
        shutil.rmtree(folder.parent, ignore_errors=True)


def _with_solution_code(name: str, work: Path) -> list[tuple[int, str, str]]:
    """The student bundle copied to `work`, its answer cells and submitted modules replaced
    by the solution bundle's; returns its code cells (index, role, source) in order."""
    student, solution = ROOT / "assignments" / name, ROOT / "solutions" / name
    shutil.copytree(student, work)
    info = plugin.get(name)
    for module in info.submitted_modules:
        shutil.copy(solution / module, work / module)
    theirs = json.loads((solution / info.notebook).read_text(encoding="utf-8"))["cells"]
    solved = {c["id"]: c for c in theirs}
    cells = []
    nb = json.loads((student / info.notebook).read_text(encoding="utf-8"))
    for index, cell in enumerate(nb["cells"]):
        role = code_role(cell)
        if cell["cell_type"] != "code" or role is None:
            continue
        assert code_role(solved[cell["id"]]) == role, f"cell {index}: the bundles differ here"
        source = cell_text(solved[cell["id"]] if role == "answer" else cell)
        cells.append((index, role, source))
    return cells


def _optional_modules(name: str) -> list[str]:
    """The modules the bundle imports only where it copes without them."""
    folder = ROOT / "assignments" / name
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    local = {rel[:-3] for rel in files if rel.endswith(".py")}
    found = third_party(
        [i for w, c in bundle_sources(files, plugin.get(name).notebook) for i in imports_of(c, w)],
        local,
    )
    required = {i.module for i in found if not i.optional}
    return sorted({i.module for i in found if i.optional} - required)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_runs_in_a_venv_from_its_requirements(
    name: str, venv_of, tmp_path: Path
) -> None:
    bin_dir, pip_seconds = venv_of(name)
    work = tmp_path / name
    cells = _with_solution_code(name, work)
    (work / ".cells.json").write_text(json.dumps(cells), encoding="utf-8")
    (work / ".runner.py").write_text(RUNNER, encoding="utf-8")
    optional = _optional_modules(name)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MPLBACKEND": "Agg",
        "EFFDL_QUICK": "1",
        "OMP_NUM_THREADS": "2",
    }
    started = time.perf_counter()
    proc = subprocess.run(
        [str(bin_dir / "python"), ".runner.py", ".cells.json", ".report.json", *optional],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    run_seconds = time.perf_counter() - started
    made = f"venv and pip {pip_seconds:.0f} s" if pip_seconds else "the venv of the same packages"
    print(f"{name}: {made}, notebook {run_seconds:.0f} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((work / ".report.json").read_text(encoding="utf-8"))
    failed = [f"cell {c['index']} ({c['role']}):\n{c['error']}" for c in report["cells"]
              if c["error"]]  # fmt: skip
    assert not failed, "cells failed in the fresh venv:\n" + "\n".join(failed)
    checks = [c for c in report["cells"] if c["role"] == "public-check"]
    assert checks
    for cell in checks:
        where = f"public check, cell {cell['index']}"
        assert cell["shown"] is None, f"{where} shows a bare value: {cell['shown']}"
        assert "[x]" not in cell["printed"] and "[  ]" not in cell["printed"], (
            f"{where}:\n{cell['printed']}"
        )
    assert "Ready to submit" in checks[-1]["printed"], checks[-1]["printed"]
    present = [module for module, absent in report["absent"].items() if not absent]
    assert not present, f"optional modules got installed, so the run proves nothing: {present}"
