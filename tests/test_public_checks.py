"""The notebooks' public checks: every known mistake of a plug-in's samples fails the public
check of the function it changes; the solution passes all of them, and so does every
correct-but-different implementation of the catalogue (a student whose code is right must
not be told it is wrong, also when it follows the other accepted convention).

Each notebook runs as a student would run it, in a subprocess in its own folder: its setup,
answer and public-check cells in order (not the experiments), up to the last public check
that names a changed function."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import plugin
from autograder.authoring import samples
from autograder.cells import cell_text, code_role

ROOT = Path(__file__).resolve().parents[1]
RUN = ("setup", "answer", "public-check")
RUNNER = r"""
import contextlib, io, json, sys, traceback
cells = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
printed = {}
for index, source in cells:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            exec(compile(source, f"<cell {index}>", "exec"), namespace)
        except Exception:
            traceback.print_exc()
    printed[str(index)] = buffer.getvalue()
json.dump(printed, open(sys.argv[2], "w", encoding="utf-8"))
"""
MISTAKES = [s for name in plugin.names() for s in samples.samples(name)]
CORRECT = [s for name in plugin.names() for s in samples.samples(name, ROOT / "tests" / "correct")]


def _code_cells(folder: Path, assignment: str) -> list[tuple[int, str, str]]:
    nb = json.loads((folder / plugin.get(assignment).notebook).read_text(encoding="utf-8"))
    cells = [(i, code_role(c), cell_text(c)) for i, c in enumerate(nb["cells"])]
    return [(i, role, text) for i, role, text in cells if role in RUN]


def _names(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


def _checks_of(cells: list[tuple[int, str, str]], names: tuple[str, ...]) -> dict[str, list[int]]:
    """For each function, the public-check cells that call it by name."""
    return {
        name: [i for i, role, text in cells if role == "public-check" and name in _names(text)]
        for name in names
    }


def _run(folder: Path, cells: list[tuple[int, str, str]], upto: int) -> dict[int, str]:
    """What each cell printed, running the cells up to index `upto` in a fresh interpreter."""
    job = folder / ".cells.json"
    job.write_text(json.dumps([(i, text) for i, _, text in cells if i <= upto]), encoding="utf-8")
    (folder / ".runner.py").write_text(RUNNER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as a student has it
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run(
        [sys.executable, ".runner.py", ".cells.json", ".printed.json"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = json.loads((folder / ".printed.json").read_text(encoding="utf-8"))
    return {int(k): v for k, v in printed.items()}


def _failed(text: str) -> bool:
    return "[x]" in text or "Traceback" in text


@pytest.mark.parametrize("name", plugin.names())
def test_the_solution_passes_every_public_check(name: str, tmp_path: Path) -> None:
    folder = tmp_path / name
    shutil.copytree(_solution(name), folder)
    cells = _code_cells(folder, name)
    printed = _run(folder, cells, cells[-1][0])
    checks = [i for i, role, _ in cells if role == "public-check"]
    assert len(checks) >= 5
    for i in checks:
        assert not _failed(printed[i]) and "[  ]" not in printed[i], (i, printed[i])
    assert "Ready to submit." in printed[checks[-1]], printed[checks[-1]]
    assert all("[ok]" in printed[i] for i in checks[:-1])


@pytest.mark.parametrize("sample", MISTAKES, ids=lambda s: f"{s.assignment}/{s.name}")
def test_each_known_mistake_fails_its_public_check(sample: samples.Sample, tmp_path: Path) -> None:
    """Every flawed sample fails a public check of its function, unless its header says why
    no public check can see it (public="none: why")."""
    public = sample.field("public", "")
    if public.startswith("none"):
        assert public.partition(":")[2].strip(), f"{sample.name}: public=none needs a reason"
        pytest.skip(f"{sample.name}: {public}")
    folder = samples.materialize(sample, _solution(sample.assignment), tmp_path / sample.name)
    cells = _code_cells(folder, sample.assignment)
    checks = _checks_of(cells, sample.replaces)
    assert all(checks.values()), f"no public check calls {checks}"
    printed = _run(folder, cells, max(max(v) for v in checks.values()))
    for name, indexes in checks.items():
        outputs = "\n".join(printed[i] for i in indexes)
        assert _failed(outputs), f"{sample.name}: the public checks of {name} pass:\n{outputs}"


@pytest.mark.parametrize("sample", CORRECT, ids=lambda s: f"{s.assignment}/{s.name}")
def test_correct_implementations_pass_their_public_checks(
    sample: samples.Sample, tmp_path: Path
) -> None:
    folder = samples.materialize(sample, _solution(sample.assignment), tmp_path / sample.name)
    cells = _code_cells(folder, sample.assignment)
    checks = {k: v for k, v in _checks_of(cells, sample.replaces).items() if v}
    if not checks:
        pytest.skip(f"no public check calls {', '.join(sample.replaces)}")
    printed = _run(folder, cells, max(max(v) for v in checks.values()))
    for name, indexes in checks.items():
        for i in indexes:
            assert not _failed(printed[i]), (
                f"{sample.name}: a public check of {name} fails:\n{printed[i]}"
            )


def _solution(name: str) -> Path:
    return plugin.get(name).solution_dir
