"""The reference cache: computed once, read back as it was, and kept from other uids."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np

from autograder.checking import refcache


def test_a_cached_reference_is_computed_once_and_readable_by_the_grader_only(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("EFFDL_CACHE", str(tmp_path / "cache"))
    refcache._memory.cache_clear()
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.arange(5.0)

    first = refcache.cached_array(("test", 1), compute)
    refcache._memory.cache_clear()  # as a fresh grader process would: read from disk
    again = refcache.cached_array(("test", 1), compute)
    assert np.array_equal(first, again) and len(calls) == 1
    (entry,) = (tmp_path / "cache").iterdir()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) & 0o077 == 0
