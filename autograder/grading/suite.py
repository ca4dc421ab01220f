"""An assignment's hidden checks: loaded once per process, run on a submission's data.

The check files are the plug-in's checks/test_*.py. Importing them once and calling each
check directly costs milliseconds; starting pytest for every submission would cost more than
the grading itself.

A check that raises on a submission's data (anything but CheckFailure or Partial) fails
that check for that submission: the student reads a plain sentence, never a source line,
path or traceback; the traceback goes to the result's staff notes, which `effdl grade`
prints, the class report lists and the selftest counts as a fault, so grader bugs stay
visible to the staff without ever reaching a student.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib
import inspect
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from autograder import plugin
from autograder.checking.spec import Call, CheckSpec
from autograder.checking.sub import Sub
from autograder.checking.verdict import CheckFailure, Partial
from autograder.grading.result import CheckResult

PLATFORM = Path(__file__).resolve().parents[1]
# Files whose change changes grades (besides the plug-in's checks and fixtures).
GRADING_CODE = ("checking", "sandbox/harness", "grading/outputs.py", "grading/statements.py")
UNEVALUATED = (
    "this check could not be completed on the values your code returned, so it counts as "
    "not passed. If you believe your code is right, ask the course staff: they can see what "
    "happened."
)


def submission_seed(secret: str | None, assignment: str, student_id: str, content: str) -> int:
    """The seed of a submission's hidden inputs: fixed by the course secret, the student and
    the submission's content hash, so a regrade draws the same inputs and a changed
    submission (one that learned from earlier feedback) draws new ones."""
    message = f"{assignment}\n{student_id}\n{content}".encode()
    digest = hmac.new((secret or "effdl-canonical").encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little")


def calls_seed(seed: int, calls_fn: object) -> int:
    """The seed one calls function draws from: the submission's seed and the function's
    name, so that a calls function added or changed elsewhere never moves another's draws."""
    name = f"{getattr(calls_fn, '__module__', '')}.{getattr(calls_fn, '__qualname__', '')}"
    digest = hashlib.sha256(f"{seed}\n{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _make_calls(calls_fn: Any, variant: dict[str, Any], seed: int) -> list[Call]:
    """calls_fn(variant, seed), or calls_fn(variant) for a calls function of fixed inputs."""
    if len(inspect.signature(calls_fn).parameters) >= 2:
        return list(calls_fn(variant, calls_seed(seed, calls_fn)))
    return list(calls_fn(variant))


@dataclass
class CheckSuite:
    """An assignment's check modules and checks, in file order."""

    assignment: str
    modules: list[ModuleType]
    specs: list[CheckSpec]
    version: str

    def plan(
        self, variant: dict[str, Any], seed: int = 0
    ) -> tuple[list[Call], dict[str, list[str]]]:
        """Every call the checks need for this variant and submission seed, each once (ids
        are unique, and the same for every seed), and the ids of each check's own calls in
        the order it declared them. A call that declares no return value is a bug."""
        calls: list[Call] = []
        own: dict[str, list[str]] = {}
        made: dict[int, list[str]] = {}  # a calls function shared by checks runs once
        for spec in self.specs:
            if spec.calls is None:
                own[spec.id] = []
                continue
            if id(spec.calls) not in made:
                made[id(spec.calls)] = []
                for call in _make_calls(spec.calls, variant, seed):
                    if any(c.id == call.id for c in calls):
                        raise RuntimeError(f"duplicate call id {call.id!r} ({spec.id})")
                    if call.returns is None:
                        raise RuntimeError(f"call {call.id!r} ({spec.id}) declares no returns")
                    calls.append(call)
                    made[id(spec.calls)].append(call.id)
            own[spec.id] = made[id(spec.calls)]
        return calls, own

    def run(
        self, sub: Sub, own: dict[str, list[str]], max_points: dict[str, float]
    ) -> tuple[list[CheckResult], list[str]]:
        """Every check on the submission, one check's fault never stopping another; the
        results and the staff-only notes of grader faults."""
        results, faults = [], list(sub.faults)
        for spec in self.specs:
            sub.own = own[spec.id]
            result, fault = run_check(spec, sub, max_points.get(spec.id, float(spec.points)))
            results.append(result)
            if fault:
                faults.append(fault)
        return results, faults


def run_check(spec: CheckSpec, sub: Sub, max_points: float) -> tuple[CheckResult, str]:
    """One check's result, and the traceback of a grader fault ('' when none)."""
    started = time.perf_counter()
    fault = ""
    try:
        returned = spec.run(sub)
        fraction = 1.0 if returned is None else max(0.0, min(1.0, float(returned)))
        status = "passed" if fraction == 1.0 else "partial"
        message = ""
    except Partial as part:
        fraction, message = part.fraction, str(part)
        status = "passed" if fraction == 1.0 else ("partial" if fraction > 0 else "failed")
    except (CheckFailure, AssertionError) as failure:
        fraction, status, message = 0.0, "failed", str(failure) or "check failed"
    except Exception:  # on this submission's data: a failure for the student, a note for staff
        fraction, status, message = 0.0, "failed", UNEVALUATED
        fault = f"{spec.id}: " + traceback.format_exc(limit=8)
    result = CheckResult(
        id=spec.id,
        problem=spec.problem,
        title=spec.title,
        function=spec.function,
        extra_credit=spec.extra_credit,
        max_points=max_points,
        status=status,
        fraction=fraction,
        message=message,
        seconds=time.perf_counter() - started,
    )
    return result, fault


def version_of(files: list[Path]) -> str:
    """A hash of the files that decide grades: re-grading is needed when it changes."""
    from effdl import __version__

    digest = hashlib.sha256(__version__.encode())
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _grading_files(manifest: plugin.Manifest) -> list[Path]:
    files: list[Path] = []
    for rel in GRADING_CODE:
        path = PLATFORM / rel
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    files += sorted(manifest.checks_dir.glob("*.py"))
    if manifest.fixtures_dir is not None:
        files += sorted(manifest.fixtures_dir.glob("*.py"))
    return files


_LOADING = threading.Lock()


def load(assignment: str) -> CheckSuite:
    """The check suite of an assignment (imported once per process, thread-safe: threads
    grading side by side all ask for it, and none may see a half-imported check module)."""
    with _LOADING:
        return _load(assignment)


@functools.cache
def _load(assignment: str) -> CheckSuite:
    manifest = plugin.get(assignment)
    files = sorted(manifest.checks_dir.glob("test_*.py"))
    if not files:
        raise RuntimeError(f"no check files in {manifest.checks_dir}")
    modules = [importlib.import_module(f"{manifest.checks_package}.{p.stem}") for p in files]
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
    return CheckSuite(assignment, modules, specs, version_of(_grading_files(manifest)))
