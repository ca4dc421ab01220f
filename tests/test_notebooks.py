"""The bundles' notebooks run: solutions end to end (EFFDL_QUICK=1) with every public check
passing; in student notebooks the public checks report NotImplementedError, never crash."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["distributed-sparse", "prune-quantize", "compress-distributed"]
LIMIT_SECONDS = 300


def execute(folder: Path, name: str, tmp_path: Path, allow_errors: bool):
    work = tmp_path / name
    shutil.copytree(folder, work)
    nb = nbformat.read(work / f"{name}.ipynb", as_version=4)
    os.environ["EFFDL_QUICK"] = "1"
    os.environ["MPLBACKEND"] = "Agg"
    try:
        client = NotebookClient(
            nb,
            timeout=LIMIT_SECONDS,
            kernel_name="python3",
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(work)}},
        )
        started = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - started
    finally:
        os.environ.pop("EFFDL_QUICK", None)
    return nb, seconds


def _text(cell) -> str:
    return "".join(
        "".join(o.get("text", ""))
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def _errors(cell) -> list[str]:
    return [
        f"{o['ename']}: {o['evalue']}"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


@pytest.mark.parametrize("name", NAMES)
def test_solution_notebook_runs_and_passes_its_public_checks(name: str, tmp_path: Path) -> None:
    nb, seconds = execute(ROOT / "solutions" / name, name, tmp_path, allow_errors=False)
    assert seconds < LIMIT_SECONDS
    checks = [c for c in nb.cells if "public-check" in c.metadata.get("tags", [])]
    assert checks
    for cell in checks:
        text = _text(cell)
        assert "[x]" not in text and "[  ]" not in text, text
    assert "Ready to submit" in _text(checks[-1])
    passed = sum(_text(c).count("[ok]") for c in checks)
    assert passed >= 4


@pytest.mark.parametrize("name", NAMES)
def test_student_public_checks_report_not_implemented(name: str, tmp_path: Path) -> None:
    nb, _ = execute(ROOT / "assignments" / name, name, tmp_path, allow_errors=True)
    checks = [c for c in nb.cells if "public-check" in c.metadata.get("tags", [])]
    for cell in checks:
        assert not _errors(cell), f"a public check crashed: {_errors(cell)}"
    reported = "".join(_text(c) for c in checks)
    assert "not implemented yet" in reported
    assert "Ready to submit" not in _text(checks[-1])
    setup = [c for c in nb.cells if "setup" in c.metadata.get("tags", [])]
    for cell in setup:
        assert not _errors(cell), f"a setup cell failed in the student notebook: {_errors(cell)}"
