"""The result model: everything known about one graded submission, and its one serializer.

A GradeResult is plain data (no functions, no check objects), so that a worker can send it
to the parent, the gradebook can keep it, and every page can be rendered again from it.
`to_dict` and `from_dict` are the only way it is turned into JSON and back.

Much of a result's text comes from the submission (messages quote its values, notes its
statements, stdout is what it printed), so `bounded` caps every part of it: a message, a
note, the printed output, the number of notes and plots, and a plot's curves and points
(`bounded_plot`, also applied when a check attaches one). The caps bound the stored JSON
by construction, far below what a gradebook row holds (tests/test_score.py works it out).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

GRADED = "graded"
NOT_GRADED = "not graded"  # the submission could not be graded: `error` says why

MESSAGE_CHARS = 4000  # one check's message
NOTE_CHARS = 1000  # one note
MAX_NOTES = 60
ERROR_CHARS = 2000  # why a submission could not be graded
STDOUT_CHARS = 72 * 1024  # what the submission printed (the harness keeps 64 KiB, and says so)
STAFF_NOTE_CHARS = 8000
MAX_STAFF_NOTES = 10
MAX_PLOTS = 20
MAX_CURVES = 8  # of the student's, and as many of the reference's, per plot
MAX_POINTS = 300  # per curve: longer curves are thinned to every k-th point
LABEL_CHARS = 40
TITLE_CHARS = 240


@dataclass
class CheckResult:
    """One check's verdict: status is passed, partial, failed or error (a grader fault)."""

    id: str
    problem: str
    title: str
    function: str
    extra_credit: bool
    max_points: float  # after the course's point overrides
    status: str
    fraction: float
    message: str
    seconds: float = 0.0

    @property
    def points(self) -> float:
        return round(self.max_points * self.fraction, 4)

    @property
    def lost(self) -> bool:
        return self.status != "passed"


@dataclass
class GradeResult:
    """One graded (or ungradable) submission."""

    student_id: str
    assignment: str
    status: str = GRADED
    error: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    variant: str = ""
    variant_claimed: str | None = None
    variant_missing: list[str] = field(default_factory=list)  # the variant's numbers not found
    sandboxed: bool = False
    check_version: str = ""
    content_hash: str = ""
    notebook: str | None = None  # the notebook graded, relative to the submission
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    plots: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    staff_notes: list[str] = field(default_factory=list)  # grader faults: never shown to students

    @property
    def graded(self) -> bool:
        return self.status == GRADED

    @property
    def variant_mismatch(self) -> bool:
        """The notebook belongs to another variant: by its metadata, or by its numbers."""
        claimed = self.variant_claimed is not None and self.variant_claimed != self.variant
        return claimed or bool(self.variant_missing)

    @property
    def lost(self) -> set[str]:
        """The ids of the checks that lost points."""
        return {c.id for c in self.checks if c.lost}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (plot arrays become lists)."""
        data = asdict(self)
        data["plots"] = _plain(self.plots)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeResult:
        """The result `to_dict` made (plot data back as arrays)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["checks"] = [CheckResult(**c) for c in data.get("checks", [])]
        values["plots"] = [
            {
                **p,
                "series": {k: np.asarray(v, dtype=float) for k, v in p["series"].items()},
                "reference": {k: np.asarray(v, dtype=float) for k, v in p["reference"].items()},
            }
            for p in data.get("plots", [])
        ]
        return cls(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def clip(text: Any, cap: int) -> str:
    """`text` (made a string) cut to `cap` characters, saying how many were left out."""
    text = text if isinstance(text, str) else str(text)
    if len(text) <= cap:
        return text
    if cap < 200:  # a label or a title: cut short
        return text[:cap]
    keep = cap - 60  # room for the words below: the result is at most `cap` long
    return text[:keep] + f" [... {len(text) - keep} more characters not shown]"


def bounded(result: GradeResult) -> GradeResult:
    """`result` with every part within its cap (see the module docstring); changed in place
    and returned. Applying it twice changes nothing more."""
    for check in result.checks:
        check.message = clip(check.message, MESSAGE_CHARS)
    notes = [clip(n, NOTE_CHARS) for n in result.notes]
    if len(notes) > MAX_NOTES:
        notes = notes[: MAX_NOTES - 1] + [f"... and {len(notes) - MAX_NOTES + 1} more notes"]
    result.notes = notes
    result.error = clip(result.error, ERROR_CHARS)
    result.stdout = clip(result.stdout, STDOUT_CHARS)
    result.staff_notes = [clip(n, STAFF_NOTE_CHARS) for n in result.staff_notes[:MAX_STAFF_NOTES]]
    if result.notebook is not None:
        result.notebook = clip(result.notebook, 300)
    if result.variant_claimed is not None:
        result.variant_claimed = clip(result.variant_claimed, 100)
    result.plots = [
        bounded_plot(
            p.get("problem", ""),
            p.get("title", ""),
            p.get("series", {}),
            p.get("reference", {}),
            p.get("log_y", False),
            p.get("x_label", "step"),
            p.get("x_step", 1),
        )
        for p in result.plots[:MAX_PLOTS]
    ]
    return result


def bounded_plot(
    problem: str,
    title: str,
    series: dict[str, Any],
    reference: dict[str, Any],
    log_y: bool = False,
    x_label: str = "step",
    x_step: int = 1,
) -> dict[str, Any]:
    """A plot within the caps, decided before any curve is converted: at most MAX_CURVES
    curves a side (the first ones), each a float array of at most MAX_POINTS points (every
    k-th point of a longer one; x_step says k). A curve that is not numbers is left out."""
    left_out = max(0, len(series) - MAX_CURVES) + max(0, len(reference) - MAX_CURVES)
    mine, theirs = _curves(series), _curves(reference)
    longest = max((c.size for c in [*mine.values(), *theirs.values()]), default=0)
    step = max(1, math.ceil(longest / MAX_POINTS))
    mine, theirs = _as_floats(mine, step), _as_floats(theirs, step)
    if left_out:
        title = clip(title, TITLE_CHARS - 40) + f" ({left_out} more curves not drawn)"
    else:
        title = clip(title, TITLE_CHARS)
    return {
        "problem": clip(problem, 40),
        "title": title,
        "series": mine,
        "reference": theirs,
        "log_y": bool(log_y),
        "x_label": clip(x_label, 60),
        "x_step": max(1, int(x_step)) * step,
    }


def _curves(curves: Any) -> dict[str, np.ndarray]:
    """The first MAX_CURVES curves as flat arrays (no copy of an array, no conversion yet)."""
    out: dict[str, np.ndarray] = {}
    items = curves.items() if isinstance(curves, dict) else ()
    for label, values in itertools.islice(items, MAX_CURVES):
        try:
            out[clip(label, LABEL_CHARS)] = np.asarray(values).reshape(-1)
        except (TypeError, ValueError):
            continue
    return out


def _as_floats(curves: dict[str, np.ndarray], step: int) -> dict[str, np.ndarray]:
    """Every `step`-th point of each curve as float64 (curves that are not numbers dropped)."""
    out = {}
    for label, values in curves.items():
        try:
            out[label] = np.array(values[::step], dtype=np.float64)
        except (TypeError, ValueError):
            continue
    return out
