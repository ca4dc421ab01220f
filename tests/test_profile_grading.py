"""benchmarks/profile_grading.py: its breakdown of one grading adds up."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_profiler():
    spec = importlib.util.spec_from_file_location(
        "profile_grading", ROOT / "benchmarks" / "profile_grading.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile_of_the_solution_accounts_for_every_call(tmp_path: Path) -> None:
    profiler = _load_profiler()
    from autograder import plugin
    from autograder.grading import suite

    info = plugin.get("distributed-sparse")
    n_calls = len(suite.load("distributed-sparse").plan(info.variant(None, None))[0])
    got = profiler.profile_once(ROOT / "solutions" / "distributed-sparse", info.name, tmp_path)
    assert got["n calls"] == n_calls, f"expected {n_calls} timed calls, got {got['n calls']}"
    assert 0 < got["in calls"] <= got["calls phase"] <= got["sandbox"], got
    assert 0 < got["before calls"] < got["sandbox"], got
    assert got["overhead per call"] > 0, got
    assert set(got["checks_by_id"]) == {s.id for s in suite.load(info.name).specs}
