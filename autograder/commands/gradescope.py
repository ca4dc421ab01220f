"""A Gradescope autograder zip, and the runtime inside it.

    effdl export gradescope --assignment NAME --out autograder.zip [--course course.toml]

The zip holds setup.sh, run_autograder, this grader's source (the platform, the assignment's
plug-in, the reference library, the student bundle) and, with --course, the variant secret and
point overrides; `run_autograder` grades $AUTOGRADER_ROOT/submission (default /autograder)
through grade_submission, the same path as `effdl grade`, and writes results/results.json.
Hand-graded questions are left to Gradescope's own grading, so the total is the automatic
part.

Without bubblewrap the student's code would run beside the zip's own files (the hidden
checks, the reference library, the course's secret), which it could read. So where the
sandbox does not work the autograder refuses: `setup.sh` fails the image build and
`run_autograder` grades nothing (exit 1, no results.json, so Gradescope says the autograder
failed). A zip made with --allow-unsandboxed grades anyway where it can keep those files
out: it makes them readable by their owner only (root), checks that a worker uid is refused
them, and says UNSANDBOXED in the log (stdout, which Gradescope shows the staff only) and in
each result's extra_data; where student code would run as root or as the grader's own uid,
it refuses as well.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from autograder import plugin
from autograder.commands.exports import ExportError
from autograder.course import late
from autograder.course.settings import Course, load_course
from autograder.plugin import REPO

CONFIG_NAME = "effdl-gradescope.json"
ENTRY_NAME = "run_gradescope.py"
# What only the trusted side may read, made owner-only before an unsandboxed run.
PRIVATE = (
    "course.toml",
    "lib",
    "autograder/plugins/*/checks",
    "autograder/plugins/*/templates",
    "autograder/plugins/*/samples",
)

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# bubblewrap: the sandbox; util-linux: setpriv, which drops root inside it.
apt-get install -y -q python3 python3-venv python3-pip bubblewrap util-linux
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
"$ROOT/venv/bin/python" -m pip install --quiet -r "$ROOT/source/requirements.txt"
# Imports the checks and says which sandbox this machine gives (fails the build if broken).
"$ROOT/venv/bin/python" "$ROOT/source/run_gradescope.py" --root "$ROOT" --check-install
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope's entry point: grades $ROOT/submission, writes $ROOT/results/results.json.
# AUTOGRADER_ROOT (default /autograder) and EFFDL_PYTHON let a test run it anywhere.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${EFFDL_PYTHON:-$ROOT/venv/bin/python}"
exec "$PYTHON" "$ROOT/source/run_gradescope.py" --root "$ROOT"
"""

ENTRY = '''"""Entry point of the Gradescope autograder made by `effdl export gradescope`."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "lib")]

from autograder.commands.gradescope import gradescope_main  # noqa: E402

sys.exit(gradescope_main(sys.argv[1:]))
'''


# What grading needs whatever the assignment (the rest of pyproject's dependencies serve the
# labs, the builds and the web page); a plug-in adds its own in its manifest.
GRADING_PACKAGES = ("numpy", "jinja2", "ipython", "tomli")


def _package(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def _requirements(assignment: str) -> str:
    """The pyproject.toml dependencies grading this assignment needs, one per line (with
    their version bounds): the platform's GRADING_PACKAGES and the manifest's requirements."""
    from autograder.course.settings import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {p.lower() for p in (*GRADING_PACKAGES, *plugin.get(assignment).requirements)}
    picked = [r for r in project["dependencies"] if _package(r) in wanted]
    missing = wanted - {_package(r) for r in picked}
    if missing:
        raise ExportError(f"pyproject.toml does not list {', '.join(sorted(missing))}")
    return "\n".join(picked) + "\n"


def _course_toml(course: Course, assignment: str) -> str:
    """The part of the course a Gradescope grader needs: name, secret (or, without one, the
    hidden inputs' seed key, so that every container draws the same), point overrides."""
    lines = ["[course]", f"name = {json.dumps(course.name)}"]
    if course.secret is not None:
        lines.append(f"secret = {json.dumps(course.secret)}")
    elif course.seed_key is not None:
        lines.append(f"seed_key = {json.dumps(course.seed_key)}")
    points = course.settings(assignment).points
    if points:
        lines += ["", f'[assignments."{assignment}".points]']
        lines += [f"{json.dumps(k)} = {v!r}" for k, v in sorted(points.items())]
    return "\n".join(lines) + "\n"


def _source_files(assignment: str) -> list[tuple[Path, str]]:
    """(file, name in the zip) of every source file the grader needs."""
    info = plugin.get(assignment)
    picked: list[tuple[Path, str]] = []

    def add_tree(folder: Path, skip: tuple[Path, ...] = ()) -> None:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            if any(s in path.parents for s in skip):
                continue
            picked.append((path, path.relative_to(REPO).as_posix()))

    plugins = REPO / "autograder" / "plugins"
    others = tuple(p for p in plugins.iterdir() if p.is_dir() and p != info.folder)
    add_tree(REPO / "autograder", skip=others)
    add_tree(REPO / "lib" / "effdl")
    if not info.bundle_dir.is_dir():
        raise ExportError(f"the student bundle {info.bundle_dir} is missing: run effdl build")
    add_tree(info.bundle_dir)
    return picked


def _zip_add(
    archive: zipfile.ZipFile, name: str, data: str | bytes, executable: bool = False
) -> None:
    """Add one file with a fixed date and its mode (so that the zip is reproducible)."""
    entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    entry.external_attr = (0o100755 if executable else 0o100644) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(entry, data)


def gradescope_zip(
    assignment: str,
    out: Path,
    course_path: str | None = None,
    force: bool = False,
    allow_unsandboxed: bool = False,
) -> Path:
    """Build the Gradescope autograder zip for an assignment at `out`; `allow_unsandboxed`
    lets it grade where bubblewrap does not work (see the module's docstring)."""
    from autograder.grading.grade import check_points

    plugin.get(assignment)
    if out.suffix != ".zip":
        raise ExportError(f"{out}: the Gradescope autograder must be a .zip file")
    if out.exists() and not force:
        raise ExportError(f"{out} exists; choose another --out or add --force to replace it")
    course = load_course(course_path)
    check_points(course, assignment)  # the zip's course.toml carries the overrides
    files = _source_files(assignment)
    config = {
        "assignment": assignment,
        "id_fields": ["sid", "email", "id"],
        "allow_unsandboxed": allow_unsandboxed,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        _zip_add(archive, "setup.sh", SETUP_SH, executable=True)
        _zip_add(archive, "run_autograder", RUN_AUTOGRADER, executable=True)
        _zip_add(archive, ENTRY_NAME, ENTRY)
        _zip_add(archive, CONFIG_NAME, json.dumps(config, indent=2) + "\n")
        _zip_add(archive, "requirements.txt", _requirements(assignment))
        _zip_add(archive, "course.toml", _course_toml(course, assignment))
        for path, name in files:
            _zip_add(archive, name, path.read_bytes())
    tmp.replace(out)
    return out


def gradescope_student(metadata: Any, fields: list[str]) -> str:
    """The student id from Gradescope's submission metadata (first submitter's first field)."""
    from autograder.course.students import RosterError, check_student_id

    users = metadata.get("users") if isinstance(metadata, dict) else None
    user = users[0] if isinstance(users, list) and users and isinstance(users[0], dict) else {}
    for name in fields:
        value = user.get(name)
        if value not in (None, ""):
            try:
                return check_student_id(str(value).strip())
            except RosterError:
                continue
    return "gradescope-student"


def _make_private(source: Path) -> None:
    """Owner-only modes on what only the trusted side reads (the unsandboxed run's student
    code runs under another uid; run as root, it is not kept out)."""
    for pattern in PRIVATE:
        for top in source.glob(pattern):
            for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
                if not path.is_symlink():
                    path.chmod(0o700 if path.is_dir() else 0o600)
    print(f"UNSANDBOXED grading allowed by the zip: made {', '.join(PRIVATE)} owner-only")


def _readable_by_workers(private: Path) -> str:
    """Why student code run unsandboxed could still read `private`, or "" when a worker uid
    runs this Python and is refused the file (the one way the run keeps it out)."""
    from autograder.sandbox.bwrap import python_paths
    from autograder.sandbox.uids import BASE_UID

    if os.geteuid() != 0:
        return "the grader is not root, so student code would run under the grader's own uid"
    exe, _ = python_paths()
    code = "import sys\ntry:\n open(sys.argv[1]).read()\nexcept PermissionError:\n sys.exit(7)"
    try:
        probe = subprocess.run(
            [exe, "-c", code, str(private)],
            user=BASE_UID,
            group=BASE_UID,
            extra_groups=[],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"a worker uid cannot run {exe} ({exc}), so student code would run as root"
    if probe.returncode == 7:
        return ""
    if probe.returncode == 0:
        return f"a worker uid can still read {private}"
    return f"a worker uid cannot run {exe} (exit {probe.returncode}), so it would run as root"


def gradescope_main(argv: list[str]) -> int:
    """What run_autograder runs: grade ROOT/submission into ROOT/results/results.json."""
    parser = argparse.ArgumentParser(prog="run_gradescope.py")
    parser.add_argument("--root", default="/autograder")
    parser.add_argument("--check-install", action="store_true")
    args = parser.parse_args(argv)
    root = Path(args.root)
    source = Path(__file__).resolve().parents[2]
    config = json.loads((source / CONFIG_NAME).read_text(encoding="utf-8"))
    assignment = config["assignment"]
    course_file = source / "course.toml"
    course = load_course(course_file) if course_file.is_file() else Course()
    from autograder.grading import suite
    from autograder.sandbox import backend

    kind, why = backend()
    print(f"effdl autograder for {assignment}, code in {source}; sandbox: {kind} ({why})")
    if kind != "bwrap":
        if not config.get("allow_unsandboxed"):
            print(
                "REFUSED: the sandbox does not work on this machine, and without it a "
                "submission could read the hidden checks, the reference library and the "
                "course's secret beside it. Use an image where bubblewrap works, or export "
                "the zip with --allow-unsandboxed to grade without the sandbox anyway.",
                file=sys.stderr,
            )
            return 1
        _make_private(source)
        problem = _readable_by_workers(source / "course.toml")
        if problem:
            print(f"REFUSED: unsandboxed grading is allowed, but {problem}", file=sys.stderr)
            return 1
    if args.check_install:
        suite.load(assignment)
        print("checks import: ok")
        return 0
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    metadata: Any = {}
    meta_path = root / late.METADATA_NAME
    if meta_path.is_file():
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError:
            print(f"warning: {meta_path} is not valid JSON", file=sys.stderr)
    student = gradescope_student(metadata, list(config.get("id_fields", ["sid"])))
    from autograder.grading.grade import grade_submission
    from autograder.publishing.student import publish

    result = grade_submission(root / "submission", assignment, course, student_id=student)
    score = publish(result, results.parent, hand_graded=False)
    if not result.graded:
        print(f"not graded: {result.error}")
    for note in result.staff_notes:  # the autograder's log is for the staff only
        print(f"grader fault:\n{note}", file=sys.stderr)
    print(f"{student}: {score.summary()}; {results}")
    return 0
