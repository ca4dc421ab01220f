"""Put the harness package (and an assignment's fixtures) into the job folder it runs from.

    JOB/harness/*.py     this package's harness/, with its compiled bytecode
    JOB/fixtures/*.py    the assignment's sandbox/ folder, when it has one

Bytecode is compiled once per grader process (checked-hash .pyc files, which Python uses
only while they match the source), so that no submission pays for compiling the harness.
"""

from __future__ import annotations

import functools
import importlib.util
import py_compile
import shutil
import tempfile
from pathlib import Path

HARNESS = Path(__file__).resolve().parent / "harness"
# How the sandbox starts the harness: the job folder (first argument) goes first on the
# import path, and the working folder ("" where Python < 3.11 put it, without -P) is taken
# off before anything is imported; the supervisor takes the job folder off again once the
# harness and the fixtures are in.
LAUNCH = (
    "import sys; sys.path[:] = [sys.argv[1]] + [p for p in sys.path if p not in ('', '.')]; "
    "import harness.supervisor as s; s.main(sys.argv[1:])"
)


@functools.cache
def _bytecode(source: Path) -> tuple[str, bytes]:
    """One module compiled once per grader process: (file name in __pycache__, bytes)."""
    target = importlib.util.cache_from_source(str(source))
    with tempfile.TemporaryDirectory(prefix="effdl-pyc-") as tmp:
        out = Path(tmp) / Path(target).name
        py_compile.compile(
            str(source),
            cfile=str(out),
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
        return out.name, out.read_bytes()


def _copy_package(source: Path, dest: Path) -> None:
    dest.mkdir(exist_ok=True)
    (dest / "__pycache__").mkdir(exist_ok=True)
    for path in sorted(source.glob("*.py")):
        shutil.copyfile(path, dest / path.name)
        name, code = _bytecode(path)
        (dest / "__pycache__" / name).write_bytes(code)
    if not (dest / "__init__.py").exists():
        (dest / "__init__.py").write_text("")


def install_harness(job_dir: Path, fixtures: Path | None = None) -> None:
    """Copy the harness package, and the assignment's fixtures folder, into `job_dir`."""
    _copy_package(HARNESS, job_dir / "harness")
    if fixtures is not None:
        _copy_package(fixtures, job_dir / "fixtures")


def fixture_modules(fixtures: Path | None) -> list[str]:
    """The fixture modules the harness imports (every .py of the folder but __init__)."""
    if fixtures is None:
        return []
    return sorted(p.stem for p in fixtures.glob("*.py") if p.stem != "__init__")


def sealed_dir(job_dir: Path) -> Path:
    """Where a job's private shares lie (slotR.json, one per rank; see harness/sealed.py):
    beside job_dir, outside every folder the sandbox mounts. A bwrap sandbox gets each file
    as its own copy in /sealed, which is what dirname(job_dir)/sealed is inside it."""
    return job_dir.parent / "sealed"
