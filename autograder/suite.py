"""Load an assignment's hidden checks once, and run them on a submission's outputs.

The check files are pytest files (autograder/checks/<assignment>/test_*.py); under pytest
they run through the `sub` fixture of conftest.py. For grading, this module imports them
once per process and calls each check directly: starting pytest for every submission would
cost more than the grading itself.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from autograder import assignments
from autograder.checking import Call, CheckSpec, Sub
from autograder.compare import CheckFailure, Partial

FRAMEWORK_FILES = ("checking.py", "compare.py", "outputs.py", "harness.py", "suite.py")


@dataclass
class CheckOutcome:
    """One check's result: status is passed, partial, failed or error (a grader bug)."""

    spec: CheckSpec
    status: str
    fraction: float
    message: str
    seconds: float

    @property
    def points(self) -> float:
        return self.spec.points * self.fraction


@dataclass
class CheckSuite:
    """An assignment's check modules, their calls and their checks, in file order."""

    assignment: str
    modules: list[ModuleType]
    specs: list[CheckSpec]
    version: str

    def calls(self, variant: dict[str, Any]) -> list[Call]:
        """Every call the checks need for this variant; ids are unique across modules."""
        out: list[Call] = []
        seen: set[str] = set()
        for module in self.modules:
            for call in getattr(module, "calls", lambda v: [])(variant):
                if call.id in seen:
                    raise RuntimeError(f"duplicate call id {call.id!r} in {module.__name__}")
                seen.add(call.id)
                out.append(call)
        return out

    def run(self, sub: Sub) -> list[CheckOutcome]:
        """Run every check on the submission; one check's failure never stops another."""
        return [run_check(spec, sub) for spec in self.specs]


def run_check(spec: CheckSpec, sub: Sub) -> CheckOutcome:
    started = time.perf_counter()
    try:
        result = spec.run(sub)
        fraction = 1.0 if result is None else max(0.0, min(1.0, float(result)))
        status = "passed" if fraction == 1.0 else "partial"
        message = ""
    except Partial as part:
        fraction, message = part.fraction, str(part)
        status = "passed" if fraction == 1.0 else ("partial" if fraction > 0 else "failed")
    except (CheckFailure, AssertionError) as failure:
        fraction, status, message = 0.0, "failed", str(failure) or "check failed"
    except Exception:  # a bug in the grader, never the student's fault: shown loudly
        fraction, status = 0.0, "error"
        message = "internal grader error (please tell the course staff):\n" + "".join(
            traceback.format_exc(limit=6)
        )
    return CheckOutcome(spec, status, fraction, message, time.perf_counter() - started)


def _import(path: Path, assignment: str) -> ModuleType:
    name = f"effdl_checks.{assignment.replace('-', '_')}.{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def version_of(files: list[Path]) -> str:
    """A hash of the files that decide grades: re-grading is needed when it changes."""
    from effdl import __version__

    digest = hashlib.sha256(__version__.encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


_LOADING = threading.Lock()


def load(assignment: str) -> CheckSuite:
    """The check suite of an assignment (imported once per process, thread-safe).

    Threads grading side by side all ask for the suite; without the lock a second thread
    could find a check module in sys.modules before the first finished executing it, and grade
    with the checks defined so far.
    """
    with _LOADING:
        return _load(assignment)


@functools.cache
def _load(assignment: str) -> CheckSuite:
    info = assignments.get(assignment)
    files = sorted(info.checks_dir.glob("test_*.py"))
    if not files:
        raise RuntimeError(f"no check files in {info.checks_dir}")
    modules = [_import(path, assignment) for path in files]
    specs = [
        obj.effdl_check
        for module in modules
        for obj in vars(module).values()
        if callable(obj) and hasattr(obj, "effdl_check")
    ]
    ids = [s.id for s in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RuntimeError(f"duplicate check ids in {assignment}: {duplicates}")
    framework = [Path(__file__).with_name(n) for n in FRAMEWORK_FILES]
    helpers = sorted(info.checks_dir.glob("*.py"))
    return CheckSuite(assignment, modules, specs, version_of(framework + helpers))
