"""The assignments the platform knows: their files, what the harness pre-imports, their checks.

One entry per assignment; everything else (building, grading, exporting) looks it up here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHECKS = Path(__file__).resolve().parent / "checks"


@dataclass(frozen=True)
class Assignment:
    """An assignment: its notebook, support files and how its submissions are graded.

    `submitted_modules` are support files whose graded code students edit (copied from the
    submission); `given_modules` are complete files from the student bundle (the grader uses
    the submission's copy when there is one, else the bundle's).
    """

    name: str
    title: str
    preimport: tuple[str, ...]
    submitted_modules: tuple[str, ...] = ()
    given_modules: tuple[str, ...] = ()
    statement_budget: float = 10.0
    untagged_budget: float = 3.0

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def checks_dir(self) -> Path:
        return CHECKS / self.name

    @property
    def bundle_dir(self) -> Path:
        return REPO / "assignments" / self.name

    @property
    def solution_dir(self) -> Path:
        return REPO / "solutions" / self.name

    def variant(self, secret: str | None, student_id: str | None) -> dict[str, Any]:
        return _variant_fn(self.name)(secret, student_id)


def _variant_fn(name: str) -> Callable[[str | None, str | None], dict[str, Any]]:
    from effdl import variants

    return {
        "distributed-sparse": variants.distributed_sparse_variant,
        "prune-quantize": variants.prune_quantize_variant,
    }[name]


ASSIGNMENTS = {
    "distributed-sparse": Assignment(
        name="distributed-sparse",
        title="Distributed training, sparse optimization and sparse encoding",
        preimport=("numpy",),
    ),
    "prune-quantize": Assignment(
        name="prune-quantize",
        title="Pruning and fixed-point quantization of ResNet-20",
        # torch imports its compiler (torch._dynamo, with sympy) on the first optimizer
        # built or the first backward through a custom Function: 1.6 s. Imported once before
        # the calls, every call process inherits it instead of paying for it again.
        preimport=("numpy", "torch", "torch._dynamo"),
        submitted_modules=("FP_layers.py",),
        given_modules=("resnet20.py", "data_utils.py", "train_utils.py"),
        statement_budget=20.0,
        untagged_budget=5.0,
    ),
}


class UnknownAssignment(ValueError):
    """No assignment of that name."""


def get(name: str) -> Assignment:
    """The assignment called `name`, or an error listing the known ones."""
    try:
        return ASSIGNMENTS[name]
    except KeyError:
        known = ", ".join(sorted(ASSIGNMENTS))
        raise UnknownAssignment(f"unknown assignment {name!r}; known: {known}") from None
