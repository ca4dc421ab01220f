"""Small classes of submissions for the class-grading tests, and one graded class shared by
the report, export, manual and browser tests (graded once per test session)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from autograder.authoring import samples
from autograder.commands.batch import BatchSummary, grade_class

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "distributed-sparse"
SOLUTION = ROOT / "solutions" / ASSIGNMENT
BLANK = ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
PRIVATE = shutil.ignore_patterns("answer_key.json", "rubric.md", ".effdl-build.json")


def png(width: int = 40, height: int = 30, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A valid solid-colour PNG image, made by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def solution_folder(dest: Path) -> Path:
    shutil.copytree(SOLUTION, dest, ignore=PRIVATE)
    return dest


def blank_notebook(dest: Path) -> Path:
    shutil.copyfile(BLANK, dest)
    return dest


def flawed(name: str, dest: Path) -> Path:
    sample = next(s for s in samples.samples(ASSIGNMENT) if s.name == name)
    return samples.materialize(sample, SOLUTION, dest)


def zip_folder(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    shutil.rmtree(folder)
    return dest


def with_plot(folder: Path) -> Path:
    """A solution whose A2.3 experiment cell has a plot and printed text as outputs."""
    solution_folder(folder)
    path = folder / f"{ASSIGNMENT}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    written = next(
        i
        for i, c in enumerate(cells)
        if "written" in c.get("metadata", {}).get("tags", []) and "A2.3" in "".join(c["source"])
    )
    cells[written - 1]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": ["final W: [1. -3. 2.]\n"]},
        {
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(png()).decode(), "text/plain": ["<Figure>"]},
            "metadata": {},
        },
    ]
    cells[written]["source"] = ["**A2.3 comment.**\n", "Noisy <b>but</b> falling & unbiased."]
    path.write_text(json.dumps(nb), encoding="utf-8")
    return folder


def make_class(folder: Path) -> Path:
    """alice: solution; bob: blank notebook; carol: a flawed zip; dave: a broken zip;
    erin: a solution with a plot above her A2.3 answer."""
    folder.mkdir(parents=True)
    solution_folder(folder / "alice")
    blank_notebook(folder / "bob.ipynb")
    flawed("closed_form_y_times_inverse", folder / "carol-src")
    zip_folder(folder / "carol-src", folder / "carol.zip")
    (folder / "dave.zip").write_bytes(b"this is not a zip file")
    with_plot(folder / "erin")
    return folder


@dataclass
class GradedClass:
    """A class graded into a gradebook, with where everything is."""

    class_dir: Path
    gradebook: Path
    out: Path
    summary: BatchSummary


_SHARED: dict[str, GradedClass] = {}


def graded_class(tmp_path_factory) -> GradedClass:
    """The shared graded class (graded on first use in a test session, then reused)."""
    if "class" not in _SHARED:
        base = tmp_path_factory.mktemp("graded-class")
        class_dir = make_class(base / "class")
        gradebook, out = base / "gradebook.sqlite", base / "out"
        summary = grade_class(class_dir, ASSIGNMENT, gradebook, out, workers=2, progress=False)
        _SHARED["class"] = GradedClass(class_dir, gradebook, out, summary)
    return _SHARED["class"]


def recorded_count(book_path: Path) -> int:
    """Results stored so far (read while a batch writes)."""
    if not book_path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{book_path}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM submissions").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # the schema is being made


def check_interrupted_batch(tmp_path: Path, sig: int, extra: list[str]) -> None:
    """`effdl grade --class` over 8 blank notebooks, sent `sig` (to the parent only, as a job
    system or Ctrl-C in a terminal would) once 2 results are stored: it must exit 130, say how
    to resume, leave whole results whose count the run's record holds, and a rerun of the same
    command must grade exactly the others."""
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    students = [f"t{k:02d}" for k in range(8)]
    for sid in students:
        blank_notebook(class_dir / f"{sid}.ipynb")
    book_path, out = tmp_path / "gb.sqlite", tmp_path / "out"
    args = [sys.executable, "-m", "autograder.cli", "grade", "--class", str(class_dir)]
    args += ["--assignment", ASSIGNMENT, "--gradebook", str(book_path), "--out", str(out)]
    args += extra
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    recorded = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and recorded < 2:
            time.sleep(0.1)
            recorded = recorded_count(book_path)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert 2 <= recorded < len(students), "the batch was not stopped in the middle"
    assert proc.returncode == 130, stderr
    assert "Run the same command again" in stderr, stderr
    from autograder.gradebook import Gradebook

    with Gradebook.open(book_path, create=False) as book:
        assert book.integrity() == "ok"
        kept = len(book.history(ASSIGNMENT))
        ((graded, finished),) = book.conn.execute("SELECT graded, finished_at FROM runs")
        assert graded == kept and finished is not None  # the run's counts were written
    resumed = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(students) - kept} graded, {kept} unchanged" in resumed.stdout
    with Gradebook.open(book_path, create=False) as book:
        assert sorted(r.student_id for r in book.history(ASSIGNMENT)) == students
