"""`effdl build`: the canonical bundles, or one student bundle per student id."""

from __future__ import annotations

from pathlib import Path

from autograder import plugin
from autograder.authoring.render import render_bundle, write_bundle
from autograder.course.settings import Course


def build_canonical(names: list[str], course: Course, out: Path, force: bool = False) -> list[str]:
    """OUT/assignments/<name>/ (student bundle) and OUT/solutions/<name>/ (solved, with the
    answer key and rubric), for the canonical variant."""
    notes = []
    for name in names:
        info = plugin.get(name)
        variant = info.variant(None, None)
        for solution, folder in (
            (False, out / "assignments" / name),
            (True, out / "solutions" / name),
        ):
            notes += write_bundle(render_bundle(name, variant, solution), folder, force)
            notes.append(f"wrote {folder}")
    return notes


def build_students(
    names: list[str], students: list[str], course: Course, out: Path, force: bool = False
) -> list[str]:
    """OUT/<student_id>/<name>/: each student's bundle with their own numbers."""
    if course.secret is None:
        raise ValueError(
            "per-student variants need a course secret: pass --course course.toml with "
            '[course] secret = "..." (or set EFFDL_COURSE)'
        )
    notes = []
    for name in names:
        info = plugin.get(name)
        for sid in students:
            variant = info.variant(course.secret, sid)
            notes += write_bundle(render_bundle(name, variant, False), out / sid / name, force)
        notes.append(f"wrote {len(students)} bundles of {name} under {out}")
    return notes
