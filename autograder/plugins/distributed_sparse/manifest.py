"""Assignment A as a plug-in: numpy only, one notebook, a numeric answer key per variant."""

from __future__ import annotations

from autograder.plugin import Manifest
from effdl.answer_key import distributed_sparse_key, format_key
from effdl.variants import distributed_sparse_variant

MANIFEST = Manifest(
    name="distributed-sparse",
    title="Distributed training, sparse optimization and sparse encoding",
    variant=distributed_sparse_variant,
    answer_key=distributed_sparse_key,
    format_key=format_key,
    preimport=("numpy",),
    selftest_seconds=4.0,
)
