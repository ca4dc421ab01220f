"""`effdl build`: the canonical bundles, or one student bundle per student id."""

from __future__ import annotations

import json
from pathlib import Path

from autograder import plugin
from autograder.authoring.render import BuildError, render_bundle, write_bundle
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
    variants = {
        name: {sid: plugin.get(name).variant(course.secret, sid) for sid in students}
        for name in names
    }
    changed = _changed_variants(variants, out)
    if changed and not force:
        raise BuildError(
            f"{out} holds bundles built with other numbers (another course secret?): "
            f"rebuilding would change the numbers of {_listed(changed)}; students who have "
            "theirs would then be graded on numbers they were not given. Build into another "
            "--out, or add --force to replace them"
        )
    notes = [f"replaced the numbers of {_listed(changed)}"] if changed else []
    for name in names:
        for sid in students:
            bundle = render_bundle(name, variants[name][sid], False)
            notes += write_bundle(bundle, out / sid / name, force)
        notes.append(f"wrote {len(students)} bundles of {name} under {out}")
    return notes


def _changed_variants(variants: dict[str, dict[str, dict]], out: Path) -> dict[str, list[str]]:
    """By assignment, the students whose bundle under `out` carries another variant than
    the one this build would write there."""
    changed: dict[str, list[str]] = {}
    for name, by_student in variants.items():
        for sid, variant in by_student.items():
            built = _built_variant(out / sid / name / plugin.get(name).notebook)
            if built is not None and built != variant["variant"]:
                changed.setdefault(name, []).append(sid)
    return changed


def _built_variant(notebook: Path) -> str | None:
    """The variant a built notebook carries in its metadata; None without a readable one
    (no bundle yet, or a file changed by hand, which write_bundle guards)."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["effdl"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    variant = meta.get("variant") if isinstance(meta, dict) else None
    return variant if isinstance(variant, str) else None


def _listed(changed: dict[str, list[str]], shown: int = 10) -> str:
    """'NAME: ann, bo (2 students)' for each assignment, the first `shown` ids of each."""
    parts = []
    for name, sids in changed.items():
        more = f" and {len(sids) - shown} more" if len(sids) > shown else ""
        parts.append(f"{name}: {', '.join(sids[:shown])}{more} ({len(sids)} students)")
    return "; ".join(parts)
