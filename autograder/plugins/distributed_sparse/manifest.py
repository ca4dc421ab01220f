"""Assignment A as a plug-in: numpy only, one notebook, a numeric answer key per variant."""

from __future__ import annotations

from typing import Any

from autograder.authoring.render import lit
from autograder.plugin import Manifest
from effdl.answer_key import distributed_sparse_key, format_key
from effdl.variants import distributed_sparse_variant


def _variant_literals(v: dict[str, Any]) -> list[str]:
    """The data of a variant as its notebook's setup cells write it: X2, y2, X3, y3 and M4."""
    return [lit(v["a2"]["X"]), lit(v["a2"]["y"]), lit(v["a3"]["X"]), lit(v["a3"]["y"]),
            lit(v["a4"]["matrix"])]  # fmt: skip


MANIFEST = Manifest(
    name="distributed-sparse",
    title="Distributed training, sparse optimization and sparse encoding",
    variant=distributed_sparse_variant,
    answer_key=distributed_sparse_key,
    format_key=format_key,
    variant_literals=_variant_literals,
    preimport=("numpy",),
    selftest_seconds=4.0,
)
