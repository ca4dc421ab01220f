"""LMS CSV exports (plain, Canvas, Sakai; late policy applied) and the Gradescope autograder
zip, run against a temporary folder laid out like Gradescope's /autograder."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from classkit import ASSIGNMENT, SOLUTION, graded_class

from autograder.commands import exports, gradescope
from autograder.gradebook import Gradebook

ROOT = Path(__file__).resolve().parents[1]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_plain_csv_has_problems_totals_and_failures(tmp_path_factory) -> None:
    graded = graded_class(tmp_path_factory)
    rows = {r["student_id"]: r for r in _rows(exports.export_csv(graded.gradebook, ASSIGNMENT))}
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "erin"]
    alice = rows["alice"]
    assert alice["status"] == "graded" and alice["late_multiplier"] == "1"
    assert float(alice["A2.1"]) == 4 and float(alice["A1"]) >= 10
    with Gradebook.open(graded.gradebook, create=False) as book:
        current = book.current(ASSIGNMENT)
        manual = sum(
            s.points for (sid, _), s in book.manual_scores(ASSIGNMENT).items() if sid == "alice"
        )
    assert float(alice["total"]) == pytest.approx(current["alice"].score + manual)
    assert float(rows["carol"]["A2.1"]) == 0
    problems = [k for k in alice if k[:1] == "A"]
    assert sum(float(alice[p]) for p in problems) == pytest.approx(float(alice["total"]))
    assert rows["dave"]["status"] == "failed" and rows["dave"]["total"] == ""
    assert "not a readable zip" in rows["dave"]["note"]
    assert rows["bob"]["total"] == "0"


def test_late_policy_is_applied_at_export(tmp_path_factory, tmp_path: Path) -> None:
    graded = graded_class(tmp_path_factory)
    course = tmp_path / "course.toml"
    course.write_text(
        "[assignments.distributed-sparse]\n"
        "due = 2020-01-01T00:00:00Z\n"
        'late_policy = "percent_per_day"\n'
        "late_percent_per_day = 10\n"
        "[assignments.distributed-sparse.extensions]\n"
        "carol = 2100-01-01T00:00:00Z\n"
    )
    text = exports.export_csv(graded.gradebook, ASSIGNMENT, "plain", str(course))
    rows = {r["student_id"]: r for r in _rows(text)}
    assert rows["alice"]["late_multiplier"] == "0" and rows["alice"]["total"] == "0"
    assert float(rows["alice"]["raw_total"]) >= 77.5 and int(rows["alice"]["days_late"]) > 10
    assert rows["carol"]["late_multiplier"] == "1"
    assert float(rows["carol"]["total"]) == float(rows["carol"]["raw_total"]) > 0
    sakai = exports.export_csv(graded.gradebook, ASSIGNMENT, "sakai", str(course))
    assert "late" in sakai.splitlines()[1]


def test_canvas_and_sakai_layouts(tmp_path_factory) -> None:
    graded = graded_class(tmp_path_factory)
    canvas = list(
        csv.reader(io.StringIO(exports.export_csv(graded.gradebook, ASSIGNMENT, "canvas")))
    )
    assert canvas[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "distributed sparse",
    ]
    assert canvas[1][0] == "Points Possible" and float(canvas[1][5]) >= 67.5
    by_id = {r[2]: r for r in canvas[2:]}
    assert by_id["bob"][5] == "0" and by_id["dave"][5] == ""
    sakai = list(
        csv.reader(
            io.StringIO(
                exports.export_csv(graded.gradebook, ASSIGNMENT, "sakai", title="HW 1: sparse!")
            )
        )
    )
    header = sakai[0]
    assert header[:2] == ["Student ID", "Student Name"]
    assert header[2].startswith("HW 1 sparse [") and header[3] == "* HW 1 sparse"
    with pytest.raises(exports.ExportError, match="unknown format"):
        exports.export_csv(graded.gradebook, ASSIGNMENT, "moodle")


def test_cli_export_writes_new_files_only(tmp_path_factory, tmp_path: Path) -> None:
    graded = graded_class(tmp_path_factory)
    out = tmp_path / "scores.csv"
    cmd = [sys.executable, "-m", "autograder.cli", "export", "csv", "--gradebook"]
    cmd += [str(graded.gradebook), "--assignment", ASSIGNMENT, "--out", str(out)]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert first.returncode == 0, first.stderr
    out.write_text("edited by a TA")
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert second.returncode == 2 and "--force" in second.stderr
    assert out.read_text() == "edited by a TA"
    forced = subprocess.run([*cmd, "--force"], capture_output=True, text=True, cwd=ROOT)
    assert forced.returncode == 0 and out.read_text().startswith("student_id,")
    to_stdout = subprocess.run(cmd[:-2], capture_output=True, text=True, cwd=ROOT)
    assert to_stdout.stdout.startswith("student_id,name,email,status,")


def test_gradescope_zip_grades_a_submission_like_gradescope(tmp_path: Path) -> None:
    course = tmp_path / "course.toml"
    course.write_text(
        '[course]\nname = "test course"\nsecret = "a secret of enough length"\n'
        '[assignments.distributed-sparse.points]\n"a2.closed_form" = 6\n'
    )
    archive = gradescope.gradescope_zip(ASSIGNMENT, tmp_path / "autograder.zip", str(course))
    with pytest.raises(exports.ExportError, match="exists"):
        gradescope.gradescope_zip(ASSIGNMENT, archive)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        zf.extractall(root / "source")
    for name in ("setup.sh", "run_autograder", "requirements.txt", "course.toml"):
        assert name in names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert any(n.startswith("autograder/plugins/distributed_sparse/checks/test_") for n in names)
    assert not any(n.startswith("autograder/plugins/prune_quantize/") for n in names)
    assert not any(n.startswith("solutions/") or "__pycache__" in n for n in names)
    assert "a secret of enough length" in (root / "source" / "course.toml").read_text()
    wanted = (root / "source" / "requirements.txt").read_text().split()
    assert any(r.startswith("numpy") for r in wanted) and any(
        r.startswith("jinja2") for r in wanted
    )
    assert not any(r.startswith(("torch", "scikit-learn", "flask")) for r in wanted), wanted
    for path in (root / "source").rglob("*"):  # zipfile drops the modes: set them as unzip does
        if path.is_file():
            path.chmod(modes[path.relative_to(root / "source").as_posix()] & 0o777)

    # Gradescope copies run_autograder to the root, puts the upload in submission/ and the
    # metadata beside it, and reads results/results.json.
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    shutil.copyfile(SOLUTION / f"{ASSIGNMENT}.ipynb", root / "submission" / f"{ASSIGNMENT}.ipynb")
    metadata = {
        "created_at": "2026-11-06T22:00:00.000000-08:00",
        "users": [{"email": "ann@example.edu", "id": 77, "name": "Ann", "sid": "ann01"}],
    }
    (root / "submission_metadata.json").write_text(json.dumps(metadata))
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "EFFDL_PYTHON": sys.executable}
    proc = subprocess.run(
        [str(root / "run_autograder")], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"code in {root / 'source'}" in proc.stdout  # the zip's code, not the checkout's
    results = json.loads((root / "results" / "results.json").read_text())
    effdl = results["extra_data"]["effdl"]
    assert effdl["student_id"] == "ann01"
    assert effdl["variant"] != "canonical"  # the course secret made ann01's own variant
    assert effdl["variant_mismatch"]  # and the canonical solution notebook is flagged
    closed = next(t for t in results["tests"] if t["extra_data"]["check_id"] == "a2.closed_form")
    assert closed["max_score"] == 6  # the course's point override travelled with the zip
    score = effdl["score"]
    assert results["score"] == score["max_points"] + 10  # full marks, extra credit included
    assert score["manual_max"] == 0  # hand-graded questions are Gradescope's own


def _unpacked(archive: Path, root: Path) -> Path:
    """The zip laid out as Gradescope lays it out, with the solution as the upload."""
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # zipfile drops the modes: set them as unzip does
            (root / "source" / info.filename).chmod((info.external_attr >> 16) & 0o777)
    (root / "submission").mkdir()
    shutil.copyfile(SOLUTION / f"{ASSIGNMENT}.ipynb", root / "submission" / f"{ASSIGNMENT}.ipynb")
    return root


def test_gradescope_refuses_to_grade_without_the_sandbox_unless_the_zip_allows_it(
    tmp_path: Path,
) -> None:
    """Unsandboxed, a submission runs beside the zip's checks, reference library and secret
    and could read them (round 11 scored a notebook of `from effdl... import *` 77.5/67.5)."""
    env = {**os.environ, "EFFDL_SANDBOX": "off", "EFFDL_PYTHON": sys.executable}
    refusing = _unpacked(gradescope.gradescope_zip(ASSIGNMENT, tmp_path / "a.zip"), tmp_path / "a")
    entry = [sys.executable, str(refusing / "source" / "run_gradescope.py"), "--root"]
    for extra in (["--check-install"], []):  # setup.sh's check fails the image build
        proc = subprocess.run(
            [*entry, str(refusing), *extra], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 1 and "REFUSED: the sandbox does not work" in proc.stderr
    assert not (refusing / "results" / "results.json").exists()  # Gradescope: "failed"

    archive = gradescope.gradescope_zip(ASSIGNMENT, tmp_path / "b.zip", allow_unsandboxed=True)
    allowed = _unpacked(archive, tmp_path / "b")
    proc = subprocess.run(
        [str(allowed / "source" / "run_autograder")],
        capture_output=True,
        text=True,
        env={**env, "AUTOGRADER_ROOT": str(allowed)},
    )
    source = allowed / "source"
    checks = source / "autograder" / "plugins" / "distributed_sparse" / "checks"
    for private in (source / "course.toml", source / "lib" / "effdl" / "truefalse.py", checks):
        assert private.stat().st_mode & 0o077 == 0, private  # owner-only, not the worker uid's
    assert (source / "autograder" / "sandbox" / "harness" / "runner.py").stat().st_mode & 0o004
    exe = Path(os.path.realpath(sys.executable))
    if os.geteuid() != 0 or any(not p.stat().st_mode & 0o001 for p in exe.parents):
        # student code would run as the grader's uid or as root, which the modes do not stop
        assert (
            proc.returncode == 1 and "REFUSED: unsandboxed grading is allowed, but" in proc.stderr
        )
        assert not (allowed / "results" / "results.json").exists()
        return
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((allowed / "results" / "results.json").read_text())
    assert "UNSANDBOXED grading allowed by the zip" in proc.stdout  # the log: staff-only
    assert "UNSANDBOXED" not in results["output"]  # not an invitation to the student
    assert results["extra_data"]["effdl"]["sandboxed"] is False
    score = results["extra_data"]["effdl"]["score"]
    assert results["score"] == score["max_points"] + 10  # the harness still ran everything


def test_gradescope_student_id_fields() -> None:
    meta = {"users": [{"email": "b@x.edu", "id": 5, "sid": ""}]}
    assert gradescope.gradescope_student(meta, ["sid", "email", "id"]) == "b@x.edu"
    assert gradescope.gradescope_student({}, ["sid"]) == "gradescope-student"
    assert gradescope.gradescope_student({"users": [{"sid": "bad id!"}]}, ["sid"]) == (
        "gradescope-student"
    )


def test_the_roster_names_students_in_the_lms_exports(tmp_path: Path) -> None:
    from classkit import solution_folder

    class_dir = tmp_path / "class"
    class_dir.mkdir()
    solution_folder(class_dir / "ann")
    solution_folder(class_dir / "zed")
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,first_name,last_name,email\nann,Ann,Lee,ann@x.edu\nbo,Bo,Ng,\n")
    gradebook = tmp_path / "gb.sqlite"
    cmd = [sys.executable, "-m", "autograder.cli", "grade", "--class", str(class_dir)]
    cmd += ["--assignment", ASSIGNMENT, "--gradebook", str(gradebook)]
    cmd += ["--out", str(tmp_path / "graded")]
    proc = subprocess.run([*cmd, "--roster", str(roster)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "no submission from bo" in proc.stdout and "not on the roster: zed" in proc.stdout
    canvas = _rows(exports.export_csv(gradebook, ASSIGNMENT, "canvas"))
    ann = next(r for r in canvas if r["SIS User ID"] == "ann")
    assert ann["Student"] == "Ann Lee" and ann["SIS Login ID"] == "ann@x.edu"
    assert next(r for r in canvas if r["SIS User ID"] == "zed")["Student"] == "zed"
    sakai = _rows(exports.export_csv(gradebook, ASSIGNMENT, "sakai"))
    assert {r["Student ID"]: r["Student Name"] for r in sakai} == {"ann": "Ann Lee", "zed": "zed"}
    plain = {r["student_id"]: r for r in _rows(exports.export_csv(gradebook, ASSIGNMENT))}
    assert (plain["ann"]["name"], plain["ann"]["email"]) == ("Ann Lee", "ann@x.edu")
    # cid's two entries are both left out (with a warning of their own): cid did hand
    # something in; an extension for an id on no roster is a typo worth a word
    shutil.copytree(class_dir / "ann", class_dir / "cid")
    (class_dir / "cid.zip").write_bytes(b"PK")
    roster.write_text(roster.read_text() + "cid,Cid,Ro,\n")
    course = tmp_path / "course.toml"
    course.write_text(
        f"[assignments.{ASSIGNMENT}]\ndue = 2026-11-06T23:59:00-05:00\n"
        f"[assignments.{ASSIGNMENT}.extensions]\nnobdy = 2026-11-08T23:59:00-05:00\n"
    )
    proc = subprocess.run(
        [*cmd, "--roster", str(roster), "--course", str(course)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "no submission from bo\n" in proc.stdout and "these entries all name" in proc.stdout
    assert "extensions to students not on the roster: nobdy" in proc.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("student_id,email\nann,not-an-address\n")
    proc = subprocess.run([*cmd, "--roster", str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "not an email address" in proc.stderr


def test_no_cell_of_the_csv_runs_as_a_spreadsheet_formula() -> None:
    """Student ids come from file names a student chose: `+1+1` or `@A1` must reach the
    spreadsheet as text (an independent attacker's find)."""
    assert exports.safe_cell("+1+1") == "'+1+1" and exports.safe_cell("@A1") == "'@A1"
    assert exports.safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert exports.safe_cell("-2") == "'-2" and exports.safe_cell("ann") == "ann"
    assert exports.safe_cell("77.5") == "77.5" and exports.safe_cell(3) == 3
    assert exports.safe_cell(" =1+2") == "' =1+2" and exports.safe_cell("\n @x") == "'\n @x"
    assert exports.safe_cell("a =1") == "a =1"


def test_export_csv_out_that_is_a_folder_is_refused_and_leaves_nothing(
    tmp_path_factory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autograder.cli import main

    graded = graded_class(tmp_path_factory)
    folder = tmp_path / "scores"
    folder.mkdir()
    code = main(
        ["export", "csv", "--gradebook", str(graded.gradebook), "--assignment", ASSIGNMENT]
        + ["--out", str(folder), "--force"]
    )
    assert code == 2
    assert f"--out {folder} is a folder; expected a file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores"]  # no temporary file
    assert not any(folder.iterdir())
