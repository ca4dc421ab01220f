"""Where one submission's grading time goes: sandbox start-up and statements, each graded
call's own time and the harness's overhead per call, and each hidden check.

Grades one submission (by default the committed solution of the assignment) --runs times,
keeping the harness's output, and prints medians over the runs. Call times come from the
harness (time inside the call's process); the per-call overhead is the time from a call's
start event to its end event minus that (the supervisor's clearing of strays, putting back
the harness's world, seeding, encoding, writing, the round trips, and for a function's first
call the fork of its process). Event times are for profiling only; grading never reads them.

    .venv/bin/python benchmarks/profile_grading.py
    .venv/bin/python benchmarks/profile_grading.py --assignment prune-quantize --runs 3
    .venv/bin/python benchmarks/profile_grading.py --submission my.ipynb --top 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from autograder import plugin
from autograder.course.settings import Course
from autograder.grading import suite
from autograder.grading.grade import grade_submission
from autograder.grading.score import score_of

ROOT = Path(__file__).resolve().parents[1]


def profile_once(path: Path, assignment: str, keep: Path) -> dict:
    """One grading: the phases (seconds), each call's time and each check's time."""
    result = grade_submission(path, assignment, Course(), student_id="profile", keep_dir=keep)
    events = [json.loads(line) for line in (keep / "events.jsonl").read_text().splitlines()]
    starts = {e["n"]: e["t"] for e in events if e["ev"] == "call_start" and "t" in e}
    ends = {e["n"]: e["t"] for e in events if e["ev"] == "call_end" and "t" in e}
    inside = {}
    for file in (keep / "calls").glob("*.json"):
        inside[int(file.stem)] = float(json.loads(file.read_text()).get("seconds", 0.0))
    done = sorted(n for n in starts if n in ends and n in inside)
    overhead = [ends[n] - starts[n] - inside[n] for n in done]
    calls_phase = (max(ends.values()) - min(starts.values())) if done else 0.0
    return {
        "score": score_of(result).raw,
        "total": result.timings["total"],
        "sandbox": result.timings["sandbox"],
        "checks": result.timings["checks"],
        "before calls": result.timings["sandbox"] - calls_phase,
        "calls phase": calls_phase,
        "in calls": sum(inside[n] for n in done),
        "overhead per call": statistics.mean(overhead) if overhead else 0.0,
        "n calls": len(done),
        "calls": {n: inside[n] for n in done},
        "checks_by_id": {o.id: o.seconds for o in result.checks},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="distributed-sparse")
    parser.add_argument(
        "--submission",
        type=Path,
        help="a notebook, folder or zip; default: the committed solution folder",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=5, help="how many slowest calls and checks")
    args = parser.parse_args()
    info = plugin.get(args.assignment)
    path = args.submission or ROOT / "solutions" / args.assignment
    if not path.exists():
        print(f"no submission at {path}", file=sys.stderr)
        return 2
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="effdl-profile-") as tmp:
            runs.append(profile_once(path, args.assignment, Path(tmp)))
    ids = [c.id for c in suite.load(args.assignment).plan(info.variant(None, None))[0]]
    print(
        f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: score "
        f"{runs[0]['score']:g}, {runs[0]['n calls']} graded calls, median of {len(runs)} runs"
    )
    for key in ("total", "sandbox", "before calls", "calls phase", "in calls", "checks"):
        print(f"  {key:<18} {statistics.median(r[key] for r in runs):7.3f} s")
    per_call = statistics.median(r["overhead per call"] for r in runs) * 1000
    print(f"  {'overhead per call':<18} {per_call:7.2f} ms")
    for title, key, names in (("calls", "calls", ids), ("checks", "checks_by_id", None)):
        times: dict = defaultdict(list)
        for run in runs:
            for name, seconds in run[key].items():
                times[name].append(seconds)
        slowest = sorted(times.items(), key=lambda kv: -statistics.median(kv[1]))[: args.top]
        print(f"slowest {title}:")
        for name, seconds in slowest:
            label = names[name] if names is not None and name < len(names) else name
            print(f"  {label:<32} {statistics.median(seconds) * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
