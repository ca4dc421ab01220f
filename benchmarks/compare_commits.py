"""Grading speed of this checkout against another commit, measured side by side in one run.

For each round it runs benchmarks/bench_grading.py (a class batch with 2 workers, no otter)
once with this working tree's code and once with REV's (a temporary git worktree, run with
the same virtual environment and its own code first on the import path), alternating which
goes first, so that a change in the machine's load falls on both alike. It reports, per
assignment, the medians over rounds of submissions per minute and of the median seconds per
submission, and their ratios (this tree / REV; above 1 for throughput is faster).

    .venv/bin/python benchmarks/compare_commits.py --against HEAD~1
    .venv/bin/python benchmarks/compare_commits.py --against a49cc4a --rounds 3 --record docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Against an earlier commit"
LINE = re.compile(r"^(?P<name>\S+) workers=2: (?P<rate>[0-9.]+)/min, median (?P<median>[0-9.]+) s")
SIZES = {"distributed-sparse": 30, "prune-quantize": 12}


def run_bench(tree: Path, assignment: str, n: int, out: Path) -> tuple[float, float]:
    """(submissions per minute, median seconds) of one batch graded with `tree`'s code."""
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{tree / 'lib'}"}
    cmd = [sys.executable, str(tree / "benchmarks" / "bench_grading.py"), "--n", str(n)]
    cmd += ["--workers", "2", "--no-otter", "--assignments", assignment, "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"bench_grading failed in {tree}:\n{proc.stderr[-2000:]}")
    for line in proc.stderr.splitlines():
        match = LINE.match(line)
        if match and match["name"] == assignment:
            return float(match["rate"]), float(match["median"])
    raise RuntimeError(f"no result line in {tree}'s output:\n{proc.stderr[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, metavar="REV", help="the commit to compare")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--assignments", nargs="+", default=list(SIZES))
    parser.add_argument("--record", metavar="MD", help="write the section into this file")
    args = parser.parse_args(argv)
    rev = subprocess.run(
        ["git", "rev-parse", "--short", args.against], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    if not rev:
        parser.error(f"{args.against} is not a commit of this repository")
    here = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="effdl-compare-") as tmp:
        old = Path(tmp) / "old"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(old), rev], cwd=ROOT, check=True
        )
        try:
            rows = []
            for name in args.assignments:
                n = SIZES.get(name, 20)
                runs: dict[str, list[tuple[float, float]]] = {"new": [], "old": []}
                for k in range(args.rounds):
                    order = [("new", ROOT), ("old", old)]
                    for label, tree in order if k % 2 == 0 else order[::-1]:
                        runs[label].append(run_bench(tree, name, n, Path(tmp) / label))
                        print(f"{name} round {k + 1} {label}: {runs[label][-1]}", file=sys.stderr)
                rate = {k: statistics.median(r for r, _ in v) for k, v in runs.items()}
                median = {k: statistics.median(m for _, m in v) for k, v in runs.items()}
                rows.append((name, n, rate, median))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT)
    lines = [
        SECTION,
        "",
        f"This tree (HEAD {here} plus uncommitted changes, if any) against {rev}, both graded "
        f"on this machine in one run of `benchmarks/compare_commits.py --against {args.against} "
        f"--rounds {args.rounds}` (2 workers, a class of N submissions per batch, rounds "
        "alternating which tree goes first; medians over the rounds):",
        "",
        f"| assignment | N | per minute, this | per minute, {rev} | ratio | median s, this | "
        f"median s, {rev} | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, n, rate, median in rows:
        lines.append(
            f"| {name} | {n} | {rate['new']:.1f} | {rate['old']:.1f} | "
            f"{rate['new'] / rate['old']:.2f} | {median['new']:.2f} | {median['old']:.2f} | "
            f"{median['new'] / median['old']:.2f} |"
        )
    section = "\n".join(lines) + "\n"
    print(section)
    if args.record:
        path = Path(args.record)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        start = text.find(SECTION)
        if start >= 0:
            end = text.find("\n## ", start + len(SECTION))
            text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
        else:
            text = text.rstrip() + "\n\n" + section
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
