"""The class report: distribution, pass rates, diagnosed mistakes, slowest submissions."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import pytest
from classkit import ASSIGNMENT, graded_class

from autograder.gradebook import GradebookError
from autograder.publishing import report

ROOT = Path(__file__).resolve().parents[1]


def test_causes_are_read_from_check_messages() -> None:
    message = (
        "W* is wrong: expected [1, -3, 2], got [2, 1, 0].\n"
        "  Likely cause: y X^-1 was computed\n  instead of X^-1 y.\n"
        "other text\n  Likely causes: one scaler for all workers"
    )
    assert report.causes_of(message) == [
        "y X^-1 was computed",
        "one scaler for all workers",
    ]
    assert report.causes_of("") == []


def test_report_page_has_plots_checks_mistakes_and_timings(tmp_path_factory) -> None:
    graded = graded_class(tmp_path_factory)
    out = tmp_path_factory.mktemp("report")
    page = report.write_report(graded.gradebook, ASSIGNMENT, out)
    html = page.read_text()
    assert "<b>5</b> students" in html and "<b>4</b> graded" in html
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 2
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<code>a2.closed_form</code>" in html
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td><code>([\w.]+)</code></td>", html)
    assert ("1", "a2.closed_form") in rows  # carol's diagnosed mistake, counted
    assert "Likely cause" in html and "y X^-1" in html
    assert "Slowest submissions" in html
    for sid in ("alice", "bob", "carol", "erin"):
        assert f"<tr><td>{sid}</td>" in html
    assert "dave: could not be graded" in html


def test_report_cli_and_errors(tmp_path_factory, tmp_path: Path) -> None:
    graded = graded_class(tmp_path_factory)
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "report", "--gradebook", str(graded.gradebook)]
        + ["--assignment", ASSIGNMENT, "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "report.html").is_file()
    with pytest.raises(GradebookError, match="no submissions of prune-quantize"):
        report.write_report(graded.gradebook, "prune-quantize", tmp_path)
    with pytest.raises(GradebookError, match="no gradebook"):
        report.write_report(tmp_path / "none.sqlite", ASSIGNMENT, tmp_path)


def test_report_out_that_is_a_file_is_refused(
    tmp_path_factory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autograder.cli import main

    graded = graded_class(tmp_path_factory)
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    code = main(
        ["report", "--gradebook", str(graded.gradebook), "--assignment", ASSIGNMENT]
        + ["--out", str(taken)]
    )
    assert code == 2
    assert f"--out {taken} is a file; expected a folder" in capsys.readouterr().err
    assert taken.read_text() == "mine"
