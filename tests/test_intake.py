"""Intake says what it did: which notebook of several was graded and why, what it refused,
and that an upload with nothing gradable in it "could not be graded" (with the reason)."""

from __future__ import annotations

import json
import os
import random
import shutil
import zipfile
from pathlib import Path

import pytest
from classkit import ASSIGNMENT, BLANK, solution_folder

from autograder.commands.batch import grade_class
from autograder.course.settings import Course
from autograder.gradebook import Gradebook
from autograder.grading.grade import grade_submission
from autograder.grading.intake import SubmissionError, _other_assignment, load_submission
from autograder.grading.result import NOT_GRADED
from autograder.grading.score import score_of
from autograder.publishing.feedback import render_feedback
from autograder.publishing.results_json import results_dict

FILLED = f"{ASSIGNMENT} (1).ipynb"


def _blank_beside_filled(folder: Path) -> Path:
    """What a download from a course site often looks like: the blank notebook under the
    assignment's name and the student's work saved as a copy."""
    solution_folder(folder)
    (folder / f"{ASSIGNMENT}.ipynb").rename(folder / FILLED)
    shutil.copyfile(BLANK, folder / f"{ASSIGNMENT}.ipynb")
    return folder


def test_the_filled_notebook_is_graded_and_the_feedback_says_so(tmp_path: Path) -> None:
    folder = _blank_beside_filled(tmp_path / "alice")
    result = grade_submission(folder, ASSIGNMENT, Course(), student_id="alice")
    assert result.graded and result.notebook == FILLED
    assert result.lost == set(), sorted(result.lost)
    warning = next(n for n in result.notes if n.startswith("WARNING: the submission holds 2"))
    assert f"graded {FILLED}" in warning and "the most functions written" in warning
    score = score_of(result)
    html = render_feedback(result, score)
    assert FILLED in html and "holds 2 notebooks" in html
    assert "holds 2 notebooks" in results_dict(result, score)["output"]


def test_ties_go_to_the_exact_name_then_to_the_newest(tmp_path: Path) -> None:
    folder = solution_folder(tmp_path / "sub")
    notebook = folder / f"{ASSIGNMENT}.ipynb"
    shutil.copyfile(notebook, folder / "copy.ipynb")
    os.utime(notebook, (1_000_000, 1_000_000))  # the exact name wins although older
    sub = load_submission(folder, ASSIGNMENT, tmp_path / "s1")
    assert sub.notebook_name == f"{ASSIGNMENT}.ipynb"
    notebook.rename(folder / "older.ipynb")
    os.utime(folder / "copy.ipynb", (2_000_000, 2_000_000))
    sub = load_submission(folder, ASSIGNMENT, tmp_path / "s2")
    assert sub.notebook_name == "copy.ipynb"  # neither has the name: the newest
    assert any("then the most recently modified" in n for n in sub.notes)


def test_a_readable_notebook_beats_an_unreadable_one(tmp_path: Path) -> None:
    folder = solution_folder(tmp_path / "sub")
    (folder / "aaa.ipynb").write_bytes(b"\x00not json")
    sub = load_submission(folder, ASSIGNMENT, tmp_path / "staging")
    assert sub.notebook_name == f"{ASSIGNMENT}.ipynb" and sub.cells
    assert any("aaa.ipynb unreadable" in n for n in sub.notes)


def test_newest_is_read_from_a_zip_too(tmp_path: Path) -> None:
    source = solution_folder(tmp_path / "src")
    data = (source / f"{ASSIGNMENT}.ipynb").read_bytes()
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("sub/first.ipynb", (2020, 1, 1, 0, 0, 0)), data)
        zf.writestr(zipfile.ZipInfo("sub/second.ipynb", (2024, 5, 1, 0, 0, 0)), data)
    sub = load_submission(archive, ASSIGNMENT, tmp_path / "staging")
    assert sub.notebook_name == "second.ipynb"  # the newer, though listed second


@pytest.mark.parametrize(
    "content, reason",
    [
        (random.Random(3).randbytes(3000), "not valid JSON"),
        (b'{"nbformat": 4}', "not a notebook"),
        (b"", "not valid JSON"),
    ],
)
def test_unreadable_uploads_could_not_be_graded(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "frank.ipynb"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=reason):
        load_submission(path, ASSIGNMENT, tmp_path / "staging")
    result = grade_submission(path, ASSIGNMENT, Course())
    assert result.status == NOT_GRADED and reason in result.error
    assert score_of(result).total == 0
    assert "could not be graded" in render_feedback(result, score_of(result))


def test_a_folder_without_a_notebook_could_not_be_graded(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("my answers are in my head")
    result = grade_submission(folder, ASSIGNMENT, Course())
    assert result.status == NOT_GRADED and "no notebook" in result.error


def test_the_class_summary_counts_unreadable_uploads(tmp_path: Path) -> None:
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    _blank_beside_filled(class_dir / "alice")
    (class_dir / "frank.ipynb").write_bytes(random.Random(5).randbytes(3000))
    summary = grade_class(
        class_dir, ASSIGNMENT, tmp_path / "book.sqlite", tmp_path / "out", progress=False
    )
    assert (summary.total, summary.graded, summary.failed) == (2, 1, 1)
    assert "not valid JSON" in summary.failures["frank"]
    with Gradebook.open(tmp_path / "book.sqlite", create=False) as book:
        current = book.current(ASSIGNMENT)
        assert current["frank"].status == "failed"
        assert current["alice"].score == current["alice"].max_score + 10  # extra credit
    alice = json.loads((tmp_path / "out" / "alice" / "results.json").read_text())
    assert FILLED in alice["output"]


def test_zip_clashes_are_refused_with_a_note_and_the_notebook_graded(tmp_path: Path) -> None:
    source = solution_folder(tmp_path / "src")
    archive = tmp_path / "clash.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hw/data", "a file")  # before the folder of its name
        zf.writestr("hw/data/x.txt", "a file in a folder")
        zf.writestr("hw/logs/run.txt", "a file in a folder")
        zf.writestr("hw/logs", "a file")  # after the folder of its name
        zf.writestr("hw/.effdl-unpacked-hw/y.txt", "the name a flattening once used")
        for path in sorted(source.iterdir()):
            zf.write(path, f"hw/{path.name}")
    sub = load_submission(archive, ASSIGNMENT, tmp_path / "staging")
    assert sub.notebook_name == f"{ASSIGNMENT}.ipynb" and sub.cells
    assert (sub.files_dir / "data" / "x.txt").is_file()
    assert (sub.files_dir / "logs" / "run.txt").is_file()
    assert (sub.files_dir / ".effdl-unpacked-hw" / "y.txt").is_file()
    refused = [n for n in sub.notes if "a folder of the same name" in n]
    assert len(refused) == 2 and "hw/data" in refused[0] + refused[1]


def test_a_name_twice_in_a_zip_is_graded_as_its_last_copy_and_said(tmp_path: Path) -> None:
    source = solution_folder(tmp_path / "src")
    archive = tmp_path / "twice.zip"
    name = f"{ASSIGNMENT}.ipynb"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(source / name, name)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.write(BLANK, name)
    sub = load_submission(archive, ASSIGNMENT, tmp_path / "staging")
    assert (sub.files_dir / name).read_bytes() == Path(BLANK).read_bytes()
    said = [n for n in sub.notes if "more than once" in n]
    assert said == [f"WARNING: the zip holds {name} more than once: the last copy in the "
                    "archive was kept and graded"]  # fmt: skip


def test_only_so_many_notebooks_are_read_to_choose_from(tmp_path: Path) -> None:
    folder = solution_folder(tmp_path / "sub")
    for k in range(30):
        shutil.copyfile(BLANK, folder / f"copy{k:02d}.ipynb")
    sub = load_submission(folder, ASSIGNMENT, tmp_path / "staging")
    assert sub.notebook_name == f"{ASSIGNMENT}.ipynb"  # the exact name is always read
    assert any("31 notebooks: only 20 were read" in n for n in sub.notes)
    assert any(n.startswith("WARNING: the submission holds 31 notebooks") for n in sub.notes)


def _patch_entry(data: bytearray, name: bytes, local: dict[int, int], central: dict[int, int]):
    """Set little-endian 16-bit fields of one entry's local and central headers (offset ->
    value), as a zip made by another tool might hold them."""
    for signature, fields, name_at in ((b"PK\x03\x04", local, 30), (b"PK\x01\x02", central, 46)):
        start = 0
        while (at := data.find(signature, start)) >= 0:
            start = at + 4
            if data[at + name_at : at + name_at + len(name)] == name:
                for offset, value in fields.items():
                    data[at + offset : at + offset + 2] = value.to_bytes(2, "little")


def test_entries_no_decoder_can_read_are_refused_and_the_notebook_graded(tmp_path: Path) -> None:
    """Deflate64 (a method Python cannot read, written by some Windows tools), an encrypted
    entry, and a damaged deflate stream: each is refused with a note naming why; the honest
    notebook beside them is graded."""
    source = solution_folder(tmp_path / "src")
    archive = tmp_path / "odd.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(source.iterdir()):
            zf.write(path, f"hw/{path.name}")
        zf.writestr("hw/deflate64.bin", b"x" * 100)
        zf.writestr("hw/secret.bin", b"y" * 100)
        zf.writestr("hw/damaged.bin", os.urandom(4000), compress_type=zipfile.ZIP_DEFLATED)
    data = bytearray(archive.read_bytes())
    _patch_entry(data, b"hw/deflate64.bin", {8: 9}, {10: 9})
    _patch_entry(data, b"hw/secret.bin", {6: 1}, {8: 1})
    at = data.find(b"hw/damaged.bin") + len(b"hw/damaged.bin")
    data[at : at + 64] = bytes(range(64))  # the start of its deflate stream
    archive.write_bytes(bytes(data))
    sub = load_submission(archive, ASSIGNMENT, tmp_path / "staging")
    assert sub.notebook_name == f"{ASSIGNMENT}.ipynb" and sub.cells
    refused = " ".join(n for n in sub.notes if "could not be unpacked" in n)
    for name in ("deflate64.bin", "secret.bin", "damaged.bin"):
        assert name in refused, sub.notes
    assert "NotImplementedError" in refused and "encrypted" in refused
    result = grade_submission(archive, ASSIGNMENT, Course(), student_id="odd")
    assert result.graded and not [c.id for c in result.checks if c.lost]


def test_strings_no_utf8_can_hold_never_stop_a_grading_or_its_batch(tmp_path: Path) -> None:
    """Round 9 of docs/trust.md: a lone surrogate in the notebook's metadata (valid JSON,
    "\\ud800") reached the feedback page unclean, so writing it failed; the batch stored the
    row, and every later run died rewriting that student's files. And a folder holding a file
    whose name is no UTF-8 could not be hashed, so a correct notebook beside it got 0. Both
    grade as the solution does now, and a class holding the first grades, re-runs and
    regrades with everyone's result kept."""
    class_dir = tmp_path / "class"
    alice = solution_folder(class_dir / "alice")
    notebook = alice / f"{ASSIGNMENT}.ipynb"
    data = json.loads(notebook.read_text(encoding="utf-8"))
    data.setdefault("metadata", {})["effdl"] = {"variant": "\ud800"}
    text = json.dumps(data)  # ensure_ascii: the surrogate is written as the escape \ud800
    assert "\\ud800" in text
    notebook.write_text(text, encoding="utf-8")
    shutil.copytree(solution_folder(tmp_path / "src"), class_dir / "bob")
    odd = os.fsdecode(b"other\xfe.ipynb")
    shutil.copyfile(BLANK, class_dir / "bob" / odd)

    book, out = tmp_path / "book.sqlite", tmp_path / "out"
    for regrade in (False, False, True):
        summary = grade_class(class_dir, ASSIGNMENT, book, out, progress=False, regrade=regrade)
        assert (summary.total, summary.failed) == (2, 0), summary.failures
        assert not [w for w in summary.warnings if "could not be written" in w], summary.warnings
    solo = score_of(grade_submission(solution_folder(tmp_path / "s"), ASSIGNMENT, Course()))
    with Gradebook.open(book, create=False) as gradebook:
        current = gradebook.current(ASSIGNMENT)
        assert current["alice"].score == current["bob"].score == solo.raw
    page = (out / "alice" / "feedback.html").read_text(encoding="utf-8")
    assert "\ud800" not in page


def test_what_a_submission_makes_the_trusted_side_parse_is_bounded(tmp_path: Path) -> None:
    """Round 12: 5 M characters of `a` lines in one cell cost the trusted side 17 s and
    4.5 GB to parse, a zip of such notebooks a minute per copy, and a zip entry named
    32,000 folders deep 4.4 s. Each is now refused before the work, and said."""
    from autograder.grading import intake

    folder = solution_folder(tmp_path / "sub")
    notebook = folder / f"{ASSIGNMENT}.ipynb"
    data = json.loads(notebook.read_text())
    data["cells"].append(
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "a\n" * (intake.MAX_CELL_CHARS // 2 + 1)}
    )  # fmt: skip
    notebook.write_text(json.dumps(data))
    sub = load_submission(folder, ASSIGNMENT, tmp_path / "staging")
    big = len(data["cells"])  # the last cell, counted from 1 as the notes count them
    assert f"cell {big} holds over 200,000 characters of code: it was not read" in sub.notes
    assert sub.cells and all(c["index"] != big for c in sub.cells)

    archive = tmp_path / "deep.zip"
    deep = "a/" * intake.MAX_NAME_PARTS + "x.py"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(solution_folder(tmp_path / "src").iterdir()):
            zf.write(path, path.name)
        zf.writestr(deep, "")
        zf.writestr("b" * (intake.MAX_NAME_CHARS + 1), "")
    sub = load_submission(archive, ASSIGNMENT, tmp_path / "staging2")
    assert sub.cells and sum("names longer than 1024" in n for n in sub.notes) == 2
    assert not (sub.files_dir / "a").exists()

    several = solution_folder(tmp_path / "several")
    plain = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": "x = 1\n" * 30_000}  # fmt: skip
    for k in range(14):  # 180,000 characters of code each, 2.5 M in all
        (several / f"copy{k:02d}.ipynb").write_text(json.dumps({**data, "cells": [plain]}))
    sub = load_submission(several, ASSIGNMENT, tmp_path / "staging3")
    assert sub.notebook_name == f"{ASSIGNMENT}.ipynb" and sub.cells
    said = [n for n in sub.notes if "characters of code in all" in n]
    assert len(said) == 1 and "counted as having no functions written" in said[0]


def test_another_assignments_notebook_is_refused_with_the_reason(tmp_path: Path) -> None:
    """A student who hands in prune-quantize's notebook for distributed-sparse once got
    A1's true/false points for B1's answers (the instructor's pass of round 13): the
    metadata names the other assignment, so nothing is graded and the reason says which."""
    other = Path(__file__).parents[1] / "solutions" / "prune-quantize" / "prune-quantize.ipynb"
    folder = tmp_path / "frank"
    folder.mkdir()
    shutil.copyfile(other, folder / "prune-quantize.ipynb")
    result = grade_submission(folder, ASSIGNMENT, Course(), student_id="frank")
    assert result.status == NOT_GRADED
    assert "the notebook of assignment 'prune-quantize'" in result.error
    assert score_of(result).total == 0
    # the metadata is the student's: one that names no installed assignment is no reason
    nb = json.loads((Path(solution_folder(tmp_path / "ok")) / f"{ASSIGNMENT}.ipynb").read_text())
    nb["metadata"]["effdl"]["assignment"] = "homework-1"
    (tmp_path / "ok" / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(nb))
    assert _other_assignment(nb["metadata"], ASSIGNMENT) is None
    assert grade_submission(tmp_path / "ok", ASSIGNMENT, Course(), student_id="ok").graded
