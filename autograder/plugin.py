"""The plug-in interface: what an assignment tells the platform, and where the platform finds it.

An assignment is one package under `autograder/plugins/<package>/`:

    manifest.py   MANIFEST = Manifest(...): title, sandbox pre-imports, modules, budgets,
                  variant and answer-key functions, selftest cost, an optional lab
    checks/       the hidden checks (test_*.py), run in the trusted process
    templates/    the notebook and support-file templates (see docs/authoring.md)
    samples/      flawed submissions, one known mistake each
    sandbox/      optional: fixtures the harness runs next to student code (stdlib, numpy and
                  torch only); they are copied into each job

The platform names no assignment: every command looks the assignment up here by its name.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PLUGINS = Path(__file__).resolve().parent / "plugins"


@dataclass(frozen=True)
class Lab:
    """An assignment's experiments as a command: `effdl lab NAME ...`.

    `arguments` adds the lab's options to its argparse parser; `run` gets the parsed options
    and returns the exit status. Errors that are the user's (missing data, a bad option)
    are raised as ValueError or FileNotFoundError and shown without a traceback."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Manifest:
    """What an assignment declares to the platform.

    `submitted_modules` are support files whose graded code students edit (copied from the
    submission); `given_modules` are complete files of the student bundle (the grader uses
    the submission's copy when there is one, else the bundle's). `preimport` is what the
    sandbox imports before any student code, once per submission. Budgets are seconds per
    top-level statement: `statement_budget` for tagged setup and answer cells,
    `untagged_budget` for cells that lost their tags. `selftest_seconds` is a rough cost of
    one grading; `selftest_repeats` is the share of `effdl selftest --repeat` gradings of its
    solution that the determinism check makes for it. `variant_literals(variant)` gives the
    text (written with the templates' `lit`) that the cells of that variant's notebook carry:
    the grader flags a notebook whose cells lack some of it (someone else's numbers).
    """

    name: str
    title: str
    variant: Callable[[str | None, str | None], dict[str, Any]]
    answer_key: Callable[[dict[str, Any]], dict[str, Any]]
    preimport: tuple[str, ...] = ("numpy",)
    submitted_modules: tuple[str, ...] = ()
    given_modules: tuple[str, ...] = ()
    statement_budget: float = 10.0
    untagged_budget: float = 3.0
    format_key: Callable[[dict[str, Any]], str] | None = None
    variant_literals: Callable[[dict[str, Any]], list[str]] | None = None
    template_globals: Callable[[], dict[str, Any]] | None = None
    selftest_seconds: float = 4.0
    selftest_repeats: float = 1.0
    lab: Lab | None = None
    requirements: tuple[str, ...] = ()  # pyproject packages its checks and sandbox need
    package: str = ""  # filled in by the registry: autograder.plugins.<package>

    def key_text(self, secret: str | None, student_id: str | None) -> str:
        """A student's own answer key (their variant's) as text: format_key's tables, or JSON."""
        key = self.answer_key(self.variant(secret, student_id))
        if self.format_key is not None:
            return self.format_key(key)
        return json.dumps(key, indent=2, sort_keys=True)

    @property
    def folder(self) -> Path:
        return PLUGINS / self.package.rpartition(".")[2]

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def checks_dir(self) -> Path:
        return self.folder / "checks"

    @property
    def checks_package(self) -> str:
        return f"{self.package}.checks"

    @property
    def templates_dir(self) -> Path:
        return self.folder / "templates"

    @property
    def samples_dir(self) -> Path:
        return self.folder / "samples"

    @property
    def fixtures_dir(self) -> Path | None:
        """The sandbox-side fixtures folder, or None when the assignment has none."""
        folder = self.folder / "sandbox"
        return folder if folder.is_dir() else None

    @property
    def bundle_dir(self) -> Path:
        return REPO / "assignments" / self.name

    @property
    def solution_dir(self) -> Path:
        return REPO / "solutions" / self.name


class UnknownAssignment(ValueError):
    """No assignment of that name."""


@functools.cache
def registry() -> dict[str, Manifest]:
    """Every plug-in's manifest by assignment name (imported once)."""
    found: dict[str, Manifest] = {}
    for info in sorted(pkgutil.iter_modules([str(PLUGINS)]), key=lambda i: i.name):
        if not info.ispkg or not (PLUGINS / info.name / "manifest.py").is_file():
            continue
        package = f"autograder.plugins.{info.name}"
        manifest = importlib.import_module(f"{package}.manifest").MANIFEST
        if not isinstance(manifest, Manifest):
            raise TypeError(f"{package}.manifest.MANIFEST is not a Manifest")
        if manifest.name in found:
            raise ValueError(f"two plug-ins are called {manifest.name!r}")
        found[manifest.name] = Manifest(**{**manifest.__dict__, "package": package})
    return found


def names() -> list[str]:
    """The assignments' names, sorted."""
    return sorted(registry())


def get(name: str) -> Manifest:
    """The assignment called `name`, or an error listing the known ones."""
    try:
        return registry()[name]
    except KeyError:
        raise UnknownAssignment(
            f"unknown assignment {name!r}; known: {', '.join(names())}"
        ) from None
