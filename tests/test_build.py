"""Authoring: bundles are fresh, valid, free of solution code, and per-student where asked."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from autograder import plugin
from autograder.authoring import render
from autograder.authoring.bundles import build_canonical, build_students
from autograder.authoring.source import body_lines, skeleton_source, solution_source
from autograder.course.settings import Course
from autograder.course.students import RosterError, read_roster

ROOT = Path(__file__).resolve().parents[1]
NAMES = plugin.names()
SECRET_COURSE = Course(secret="a-test-secret-of-some-length")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fresh")
    build_canonical(NAMES, Course(), out)
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize("kind", ["assignments", "solutions"])
@pytest.mark.parametrize("name", NAMES)
def test_fresh_build_equals_committed_bundle(fresh: Path, kind: str, name: str) -> None:
    committed = _files(ROOT / kind / name)
    built = _files(fresh / kind / name)
    assert sorted(built) == sorted(committed), (
        f"{kind}/{name}: file lists differ; run `effdl build`"
    )
    stale = [rel for rel in built if built[rel] != committed[rel]]
    assert not stale, f"{kind}/{name}: {stale} differ from a fresh build; run `effdl build`"


def _answer_qualnames(name: str) -> list[str]:
    folder = plugin.get(name).templates_dir
    text = (folder / "notebook.ipynb.j2").read_text()
    text += "".join(p.read_text() for p in folder.glob("*.py.j2"))
    import re

    return re.findall(r'answer\("([^"]+)"', text)


def _docstrings(qualname: str) -> list[str]:
    import ast

    tree = ast.parse(solution_source(qualname))
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
    docs = [ast.get_docstring(n, clean=False) for n in nodes]
    return [d for d in docs if d]


@pytest.mark.parametrize("name", NAMES)
def test_student_bundle_holds_no_solution_body(fresh: Path, name: str) -> None:
    def code(folder: Path) -> str:
        parts = [p.read_text() for p in folder.glob("*.py")]
        nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
        parts += [c.source for c in nb.cells if c.cell_type == "code"]
        return "\n".join(parts)

    student, solution = code(fresh / "assignments" / name), code(fresh / "solutions" / name)
    qualnames = _answer_qualnames(name)
    assert len(qualnames) >= 4
    for qualname in qualnames:  # docstrings are kept on purpose: they may describe the method
        for doc in _docstrings(qualname):
            student = student.replace(doc, "")
    given = solution  # the solution bundle without its answers: code every bundle shares
    for qualname in qualnames:
        given = given.replace(solution_source(qualname).rstrip(), "")
    for qualname in qualnames:
        lines = [line for line in body_lines(qualname) if line not in given]
        assert lines, qualname
        for line in lines:
            assert line not in student, (
                f"{qualname}: solution line {line!r} is in the student bundle"
            )
        assert all(line in solution for line in lines), f"{qualname} is missing from the solution"


@pytest.mark.parametrize("kind", ["assignments", "solutions"])
@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_clean_nbformat(fresh: Path, kind: str, name: str) -> None:
    nb = nbformat.read(fresh / kind / name / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.effdl == {
        "assignment": name,
        "variant": "canonical",
        "version": nb.metadata.effdl.version,
    }
    ids = [c.id for c in nb.cells]
    assert len(set(ids)) == len(ids) and all(i.startswith(name) for i in ids)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            assert len(cell.metadata.tags) == 1
            assert cell.metadata.tags[0] in ("setup", "answer", "public-check", "experiment")
    roles = {c.metadata.get("tags", ["markdown"])[0] for c in nb.cells}
    assert {"answer", "public-check", "experiment", "written", "setup"} <= roles


def test_rendering_is_deterministic() -> None:
    variant = plugin.get("distributed-sparse").variant(None, None)
    a = render.render_bundle("distributed-sparse", variant, solution=False)
    b = render.render_bundle("distributed-sparse", variant, solution=False)
    assert a.files == b.files


def test_per_student_bundles_differ_between_ids_and_repeat_for_one(tmp_path: Path) -> None:
    build_students(["distributed-sparse"], ["ann", "bob"], SECRET_COURSE, tmp_path / "one")
    build_students(["distributed-sparse"], ["ann"], SECRET_COURSE, tmp_path / "two")
    ann = (tmp_path / "one/ann/distributed-sparse/distributed-sparse.ipynb").read_bytes()
    bob = (tmp_path / "one/bob/distributed-sparse/distributed-sparse.ipynb").read_bytes()
    again = (tmp_path / "two/ann/distributed-sparse/distributed-sparse.ipynb").read_bytes()
    assert ann == again
    assert ann != bob
    meta = json.loads(ann)["metadata"]["effdl"]
    assert meta["variant"] not in ("canonical", SECRET_COURSE.secret)
    assert SECRET_COURSE.secret.encode() not in ann
    x_ann = json.loads(ann)["cells"]
    x_bob = json.loads(bob)["cells"]
    data = [i for i, (a, b) in enumerate(zip(x_ann, x_bob)) if a["source"] != b["source"]]
    assert data, "the two students' notebooks hold the same numbers"


def test_student_build_without_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secret"):
        build_students(["distributed-sparse"], ["ann"], Course(), tmp_path)


def test_rebuild_never_overwrites_hand_edits(tmp_path: Path) -> None:
    build_canonical(["distributed-sparse"], Course(), tmp_path)
    folder = tmp_path / "assignments" / "distributed-sparse"
    notebook = folder / "distributed-sparse.ipynb"
    notebook.write_text(notebook.read_text() + " ")
    (folder / "my_notes.txt").write_text("mine")
    with pytest.raises(render.BuildError, match="changed since the last build"):
        build_canonical(["distributed-sparse"], Course(), tmp_path)
    notes = build_canonical(["distributed-sparse"], Course(), tmp_path, force=True)
    assert (folder / "my_notes.txt").read_text() == "mine"
    assert any("my_notes.txt" in n for n in notes)
    assert not notebook.read_text().endswith(" ")


def test_skeleton_keeps_signature_and_docstring() -> None:
    text = skeleton_source("effdl.distributed:closed_form")
    assert text.startswith("def closed_form(X: np.ndarray, y: np.ndarray) -> np.ndarray:")
    assert '"""' in text and "raise NotImplementedError('write closed_form')" in text
    assert "np.linalg.solve" not in text
    ste = skeleton_source("effdl.quant:STE", ("forward", "backward"))
    assert "class STE(torch.autograd.Function)" in ste
    assert ste.count("raise NotImplementedError") == 2


def test_roster(tmp_path: Path) -> None:
    good = tmp_path / "roster.csv"
    good.write_text("name,student_id,email\nAnn,ann,a@x\nBob,bob.b,b@x\n")
    assert read_roster(good) == ["ann", "bob.b"]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,id\nAnn,ann\n")
    with pytest.raises(RosterError, match="student_id"):
        read_roster(bad)
    evil = tmp_path / "evil.csv"
    evil.write_text("student_id\n../../etc\n")
    with pytest.raises(RosterError, match="not usable"):
        read_roster(evil)


def test_roster_refuses_rows_that_would_mix_up_students(tmp_path: Path) -> None:
    """An unclosed quote swallows the rows after it; ids equal but for case share a folder
    on macOS and Windows; a shared email makes Gradescope and the LMS give one student's
    grade to another. Each is refused, naming the line or the students."""
    roster = tmp_path / "roster.csv"
    roster.write_text('student_id,name,email\nann,"Ann, unclosed,a@x\nbjorn,B,b@x\ncy,C,c@x\n')
    with pytest.raises(RosterError, match=r"roster.csv:2: .*quote"):
        read_roster(roster)
    roster.write_text("student_id,name,email\nAnn,Upper,u@x\nbo,Bo,b@x\nann,lower,l@x\n")
    with pytest.raises(RosterError, match="differ only in case: Ann and ann"):
        read_roster(roster)
    roster.write_text("student_id,name,email\nann,Ann,ann@uni.edu\ngus,Gus,Ann@Uni.edu\n")
    with pytest.raises(RosterError, match=r"ann@uni.edu \(ann, gus\)"):
        read_roster(roster)
    roster.write_text(
        'student_id,name,email\nann,"Lee, Ann",ann@uni.edu\nbo,"Bo ""B"" Ng",\ncy,Cy,\n'
    )
    assert read_roster(roster) == ["ann", "bo", "cy"]  # quotes closed, no email is no clash


def test_rebuild_with_another_secret_names_the_students_whose_numbers_change(
    tmp_path: Path,
) -> None:
    build_students(["distributed-sparse"], ["ann", "bob"], SECRET_COURSE, tmp_path)
    notebook = tmp_path / "ann" / "distributed-sparse" / "distributed-sparse.ipynb"
    handed_out = notebook.read_bytes()
    build_students(["distributed-sparse"], ["ann", "bob", "cy"], SECRET_COURSE, tmp_path)
    assert notebook.read_bytes() == handed_out  # the same secret: a new student only
    other = Course(secret="another-secret-of-some-length")
    with pytest.raises(render.BuildError, match=r"distributed-sparse: ann, bob, cy \(3 students\)"):
        build_students(["distributed-sparse"], ["ann", "bob", "cy", "dan"], other, tmp_path)
    assert notebook.read_bytes() == handed_out
    assert not (tmp_path / "dan").exists()  # refused before writing anything
    notes = build_students(["distributed-sparse"], ["ann"], other, tmp_path, force=True)
    assert any("replaced the numbers of distributed-sparse: ann" in n for n in notes)
    assert notebook.read_bytes() != handed_out


def test_build_out_that_is_a_file_is_refused(tmp_path: Path, capsys) -> None:
    from autograder.cli import main

    taken = tmp_path / "taken"
    taken.write_text("mine")
    assert main(["build", "distributed-sparse", "--out", str(taken)]) == 2
    assert f"--out {taken} is a file; expected a folder" in capsys.readouterr().err
    assert main(["build", "distributed-sparse", "--out", str(taken / "sub")]) == 2
    assert f"{taken} is a file, not a folder" in capsys.readouterr().err
    assert taken.read_text() == "mine"
