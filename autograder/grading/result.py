"""The result model: everything known about one graded submission, and its one serializer.

A GradeResult is plain data (no functions, no check objects), so that a worker can send it
to the parent, the gradebook can keep it, and every page can be rendered again from it.
`to_dict` and `from_dict` are the only way it is turned into JSON and back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

GRADED = "graded"
NOT_GRADED = "not graded"  # the submission could not be graded: `error` says why


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
