"""Grading throughput: a class of generated submissions graded with 1 and 2 workers, and the
same problem graded by otter-grader's `otter run`, for scale; with --dask, the same class on a
Dask cluster against the built-in pool, and the single gradebook writer's cost.

For each assignment it generates N submissions (solutions, blank notebooks and each flawed
sample, in turn), grades them into a fresh gradebook with `effdl grade --class`'s code path
(autograder.batch.grade_class) once per worker count, and reports submissions per minute
(end to end: worker start-up, planning and writing every result file included) and the
median seconds per submission, split into staging, the sandbox's wall time and checks. For
reference, a cold start is measured on its own: bubblewrap with the grader's mounts and
environment starting the Python interpreter, importing what the harness pre-imports (numpy;
numpy, torch and torch._dynamo) and exiting as the harness does, median of 5; a warm run (the
default, docs/sandbox.md) does not pay it.

otter: problem A4 (CSC encoding) in otter's format lives in benchmarks/otter/ (test files
made from effdl and the hidden checks' inputs, by this script when missing). The script
creates benchmarks/.venv-otter (a separate virtual environment with otter-grader; not part of
`make test`), builds otter's autograder zip with `otter generate`, and times `otter run` on
an A4-only notebook made from the solution; this grader grades the same notebook, so the
ratio compares the same work.

    .venv/bin/python benchmarks/bench_grading.py                     # everything, N = 50
    .venv/bin/python benchmarks/bench_grading.py --n 10 --no-otter --assignments distributed-sparse
    .venv/bin/python benchmarks/bench_grading.py --record docs/benchmarks.md

Dask (`--dask local:2`): in each of --rounds rounds the class is graded by the built-in pool
with as many workers and by the Dask cluster (the order alternating between rounds), each
into a fresh gradebook, end to end (the local cluster's start and close included); the ratio
is Dask's submissions per minute over the pool's, median over the rounds. The gradebook
writer (Gradebook.record, one transaction, plus publish's results.json and feedback.html) is
timed per result inside those batches (summary.writer_seconds, while the workers compete for
the cores) and alone (every result of a batch recorded again into a fresh gradebook with
nothing else running): 60 / its median is the most results per minute one writer can store,
whatever the number of workers.

    .venv/bin/python benchmarks/bench_grading.py --n 20 --no-otter --workers 2 \
        --assignments distributed-sparse --dask local:2 --sections dask --record docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import pprint
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OTTER_DIR = ROOT / "benchmarks" / "otter"
OTTER_VENV = ROOT / "benchmarks" / ".venv-otter"
SECTION = "## Grading throughput"
DASK_SECTION = "## Grading on Dask"
WARM_SECTION = "## Warm sandboxes against cold ones"
TARGETS = {"prune-quantize": 1.0, "distributed-sparse": 0.4}  # issue 16: median s, warm
TARGET_PER_MINUTE = ("distributed-sparse", 2, 250.0)  # and submissions/min with 2 workers
A4_FUNCTIONS = ("csc_encode", "csc_storage_bits", "csc_size_formula", "csc_max_K")

sys.path[:0] = [str(ROOT), str(ROOT / "lib")]

from autograder import plugin, sandbox  # noqa: E402
from autograder.authoring import samples  # noqa: E402
from autograder.commands import dask_batch  # noqa: E402
from autograder.commands.batch import BatchSummary, grade_class, write_outputs  # noqa: E402
from autograder.course.settings import Course  # noqa: E402
from autograder.gradebook import Gradebook  # noqa: E402
from autograder.grading.grade import grade_submission  # noqa: E402
from autograder.sandbox import bwrap, warm  # noqa: E402


@dataclass
class Run:
    """One batch of one assignment with one worker count."""

    assignment: str
    workers: int
    n: int
    seconds: float
    medians: dict[str, float]
    p90_total: float
    failed: int
    how: str = "pool"  # or the Dask scheduler, "local:2"
    writer: list[float] = field(default_factory=list)  # seconds per stored result

    @property
    def per_minute(self) -> float:
        return 60.0 * self.n / self.seconds


@dataclass
class DaskPair:
    """One round of the Dask comparison: the pool and the cluster on the same class."""

    assignment: str
    pool: Run
    dask: Run

    @property
    def ratio(self) -> float:
        return self.dask.per_minute / self.pool.per_minute


@dataclass
class WarmPair:
    """One round of the warm/cold comparison: the same class graded both ways."""

    assignment: str
    warm: Run
    cold: Run

    @property
    def ratio(self) -> float:
        """Warm submissions per minute over cold ones."""
        return self.warm.per_minute / self.cold.per_minute


@dataclass
class Results:
    """Everything one benchmark run measured."""

    runs: list[Run] = field(default_factory=list)
    starts: dict[str, float] = field(default_factory=dict)
    otter: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    pairs: list[DaskPair] = field(default_factory=list)
    warm_pairs: list[WarmPair] = field(default_factory=list)
    writer_alone: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    cluster_start: float | None = None
    loads: list[tuple[float, float, float]] = field(default_factory=list)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------------- submissions
def make_class(assignment: str, n: int, folder: Path) -> dict[str, int]:
    """N submissions: the solution, the blank bundle and each flawed sample, in turn."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    info = plugin.get(assignment)
    kinds = ["solution", "blank"] + [s.name for s in samples.samples(assignment)]
    ignore = shutil.ignore_patterns("answer_key.json", "rubric.md", ".effdl-build.json")
    counts: dict[str, int] = {}
    for k in range(n):
        kind = kinds[k % len(kinds)]
        dest = folder / f"s{k:03d}"
        if kind == "solution":
            shutil.copytree(info.solution_dir, dest, ignore=ignore)
        elif kind == "blank":
            shutil.copytree(info.bundle_dir, dest, ignore=ignore)
        else:
            sample = next(s for s in samples.samples(assignment) if s.name == kind)
            samples.materialize(sample, info.solution_dir, dest)
        group = kind if kind in ("solution", "blank") else "flawed"
        counts[group] = counts.get(group, 0) + 1
    return counts


# ---------------------------------------------------------------------- timing
def sandbox_start(preimport: tuple[str, ...], repeats: int = 5) -> float | None:
    """Median seconds for bubblewrap to start Python and import `preimport` (None: no bwrap)."""
    if sandbox.backend()[0] != "bwrap":
        return None
    exe, sites = bwrap.python_paths()
    base = ["bwrap", *bwrap.mounts([]), "--tmpfs", "/submission"]
    base += bwrap.process_args(sandbox.worker_uid(999))  # as in a grading
    code = f"import os, sys; sys.path.extend({sites!r}); "
    code += "; ".join(f"import {m}" for m in preimport)
    code += "; os._exit(0)"  # as the harness ends: without the interpreter's teardown
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([*base, exe, "-s", "-S", "-P", "-c", code], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def grade_batch(
    assignment: str, class_dir: Path, workers: int, work: Path, dask: str | None = None
) -> Run:
    """Grade the class into a fresh gradebook (with the pool, or on the Dask cluster `dask`)
    and summarize the timings."""
    out = work / (f"w{workers}" if dask is None else "dask-" + dask.replace(":", "-"))
    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    book, graded = out / "gradebook.sqlite", out / "graded"
    summary: BatchSummary
    if dask is None:
        summary = grade_class(class_dir, assignment, book, graded, workers=workers)
    else:
        summary = dask_batch.grade_class(class_dir, assignment, book, graded, dask)
    seconds = time.perf_counter() - started
    timings = summary.timings
    medians = {
        key: statistics.median(t.get(key, 0.0) for t in timings)
        for key in ("stage", "sandbox", "calls", "checks", "total")
    }
    totals = sorted(t["total"] for t in timings)
    p90 = totals[min(len(totals) - 1, int(0.9 * len(totals)))]
    return Run(
        assignment, summary.workers, summary.total, seconds, medians, p90, summary.failed,
        how=dask or "pool", writer=list(summary.writer_seconds),
    )  # fmt: skip


def writer_alone(gradebook: Path, assignment: str, work: Path) -> list[tuple[float, float]]:
    """Seconds per result of the gradebook writer with nothing else running, as (the
    gradebook's transaction, the result files): every current result of `gradebook` recorded
    again into a fresh one, and its files written."""
    with Gradebook.open(gradebook, create=False) as book:
        results = [book.result(row.id) for row in book.current(assignment).values()]
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    times = []
    with Gradebook.open(work / "gradebook.sqlite") as book:
        for result in results:
            folder = work / "graded" / result.student_id
            started = time.perf_counter()
            book.record(result, "bench", None, None, False, "bench", str(folder))
            recorded = time.perf_counter()
            write_outputs(book, result, folder, None)
            times.append((recorded - started, time.perf_counter() - recorded))
    return times


def cluster_start(spec: str) -> float:
    """Seconds to start and close the Dask cluster `spec` with nothing to grade."""
    started = time.perf_counter()
    with dask_batch.connect(spec):
        pass
    return time.perf_counter() - started


def bench_dask(
    name: str, class_dir: Path, spec: str, rounds: int, work: Path, results: Results
) -> None:
    """Rounds of the pool and the Dask cluster on the same class, alternating which goes
    first; then the writer alone, on the last pool batch's results."""
    kind, value = dask_batch.parse_scheduler(spec)
    workers = value if kind == "local" else 2
    for k in range(rounds):
        order = ["pool", "dask"] if k % 2 == 0 else ["dask", "pool"]
        runs = {}
        for how in order:
            runs[how] = grade_batch(
                name, class_dir, workers, work / f"round{k}", None if how == "pool" else spec
            )
            results.loads.append(os.getloadavg())
            print(
                f"{name} round {k} {how}: {runs[how].per_minute:.1f}/min, writer median "
                f"{1000 * statistics.median(runs[how].writer):.1f} ms",
                file=sys.stderr,
            )
        results.pairs.append(DaskPair(name, runs["pool"], runs["dask"]))
    last = work / f"round{rounds - 1}" / f"w{workers}" / "gradebook.sqlite"
    results.writer_alone[name] = writer_alone(last, name, work / "writer")


def bench_warm(
    name: str, class_dir: Path, workers: list[int], rounds: int, work: Path, results: Results
) -> None:
    """Rounds of the same class graded with warm sandboxes and with cold ones (EFFDL_SANDBOX
    =cold, as `effdl grade --cold` sets it), per worker count, alternating which goes first."""
    saved = os.environ.get("EFFDL_SANDBOX")
    try:
        for count in workers:
            for k in range(rounds):
                runs = {}
                for how in ["warm", "cold"] if k % 2 == 0 else ["cold", "warm"]:
                    warm.retire_all()  # each batch starts its zygotes itself, in its time
                    if how == "cold":
                        os.environ["EFFDL_SANDBOX"] = "cold"
                    else:
                        os.environ.pop("EFFDL_SANDBOX", None)
                    runs[how] = grade_batch(name, class_dir, count, work / f"{how}{k}")
                    results.loads.append(os.getloadavg())
                    print(
                        f"{name} workers={count} round {k} {how}: {runs[how].per_minute:.1f}"
                        f"/min, median {runs[how].medians['total']:.2f} s",
                        file=sys.stderr,
                    )
                results.warm_pairs.append(WarmPair(name, runs["warm"], runs["cold"]))
    finally:
        if saved is None:
            os.environ.pop("EFFDL_SANDBOX", None)
        else:
            os.environ["EFFDL_SANDBOX"] = saved


# ---------------------------------------------------------------------- otter
def ensure_otter_venv() -> Path:
    """benchmarks/.venv-otter with otter-grader (created on first use); its `otter` path."""
    otter = OTTER_VENV / "bin" / "otter"
    if otter.exists():
        return otter
    print(f"creating {OTTER_VENV} with otter-grader ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(OTTER_VENV)], check=True)
    pip = [str(OTTER_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "otter-grader", "numpy", "matplotlib", "ipykernel"], check=True)
    return otter


def _a4_module():
    from autograder.grading import suite

    suite_ = suite.load("distributed-sparse")
    return next(m for m in suite_.modules if m.__name__.endswith("test_a4_csc"))


def _case(code: str) -> dict:
    """One doctest case (otter's OK format has no suite setup: each case imports numpy)."""
    return {"code": ">>> import numpy as np\n" + code, "hidden": False, "locked": False}


def write_otter_tests(folder: Path) -> None:
    """Otter (OK format) tests for A4 on the inputs the hidden checks use, from effdl."""
    import numpy as np

    from effdl import csc
    from effdl.variants import distributed_sparse_variant

    checks = _a4_module()
    a4 = distributed_sparse_variant(None, None)["a4"]
    own = (a4["matrix"], int(a4["index_bits"]))
    encodes = [own, (checks.PAPER_COLUMN.tolist(), 4)]
    encodes += [(P.tolist(), b) for P, b in checks.draw_probes(0)]  # one submission's draw
    enc_cases = []
    for M, bits in encodes:
        v, z, p = csc.csc_encode(np.array(M, dtype=float), bits)
        enc_cases.append(
            _case(
                f">>> v, z, p = csc_encode(np.array({M!r}, dtype=float), {bits})\n"
                f">>> bool(np.allclose(v, {np.asarray(v).tolist()!r}))\nTrue\n"
                f">>> [int(x) for x in z] == {[int(x) for x in z]!r}\nTrue\n"
                f">>> [int(x) for x in p] == {[int(x) for x in p]!r}\nTrue"
            )
        )
    bits_cases = []
    for M, ib, vb in ((a4["matrix"], int(a4["index_bits"]), int(a4["value_bits"])),):
        got = csc.csc_storage_bits(np.array(M, dtype=float), ib, vb)
        bits_cases.append(
            _case(
                f">>> got = csc_storage_bits(np.array({M!r}, dtype=float), {ib}, {vb})\n"
                f">>> got['total'] == {int(got['total'])}\nTrue"
            )
        )
    formula = [
        _case(f">>> csc_size_formula{c!r} == {csc.csc_size_formula(*c)}\nTrue")
        for c in checks.draw_formula_cases(0)
    ]
    formula += [
        _case(f">>> csc_max_K{c!r} == {csc.csc_max_K(*c)}\nTrue")
        for c in checks.draw_max_k_cases(0)
    ]
    tests = folder / "tests"
    tests.mkdir(parents=True, exist_ok=True)
    for name, points, cases in (
        ("a4_1", 5, enc_cases),
        ("a4_2", 5, bits_cases),
        ("a4_3", 5, formula),
    ):
        test = {
            "name": name,
            "points": points,
            "suites": [
                {
                    "cases": cases,
                    "scored": True,
                    "setup": "",
                    "teardown": "",
                    "type": "doctest",
                }
            ],
        }
        body = (
            f'"""Otter test for {name.upper().replace("_", ".")} (made by bench_grading.py)."""\n\n'
            f"OK_FORMAT = True\n\ntest = {pprint.pformat(test, width=95, sort_dicts=False)}\n"
        )
        (tests / f"{name}.py").write_text(body)
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.exists():  # keep the committed files as the project's formatter wants them
        subprocess.run([str(ruff), "format", "--quiet", str(tests)], check=False)


def a4_notebook(dest: Path) -> Path:
    """The solution's setup cells (imports, helpers, data) and its A4 answer cells only: a
    notebook both graders can grade."""
    info = plugin.get("distributed-sparse")
    nb = json.loads((info.solution_dir / info.notebook).read_text(encoding="utf-8"))
    keep = []
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code":
            continue
        is_a4 = "answer" in tags and any(f"def {f}(" in source for f in A4_FUNCTIONS)
        if "setup" in tags or is_a4:
            keep.append({**cell, "outputs": [], "execution_count": None})
    nb["cells"] = keep
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return dest


def bench_otter(work: Path, runs: int, results: Results) -> None:
    """Median seconds of `otter run` and of this grader on the same A4 notebook."""
    if not (OTTER_DIR / "tests" / "a4_1.py").exists():
        write_otter_tests(OTTER_DIR)
    otter = ensure_otter_venv()
    folder = (work / "otter").resolve()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    notebook = a4_notebook(folder / "submission" / "a4.ipynb")
    zip_path = folder / "otter-autograder.zip"
    subprocess.run(
        [str(otter), "generate", "-t", str(OTTER_DIR / "tests"), "-o", str(zip_path)]
        + ["--no-config", "--no-requirements", "--no-environment"],
        check=True,
        cwd=folder,
        capture_output=True,
    )
    otter_times = []
    score = None
    for k in range(runs):
        out = folder / f"run{k}"
        out.mkdir()
        started = time.perf_counter()
        proc = subprocess.run(
            [str(otter), "run", "-a", str(zip_path), "-o", str(out), "--no-logo", str(notebook)],
            capture_output=True,
            text=True,
        )
        otter_times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise RuntimeError(f"otter run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        found = json.loads((out / "results.json").read_text())
        score = sum(t.get("score", 0) for t in found.get("tests", []))
    ours = []
    our_score = None
    for k in range(runs):
        result = grade_submission(notebook, "distributed-sparse", Course(), student_id=f"o{k}")
        ours.append(result.timings["total"])
        our_score = sum(o.points for o in result.checks if o.id.startswith("a4."))
    results.otter = {
        "otter_median": statistics.median(otter_times),
        "ours_median": statistics.median(ours),
        "otter_score": float(score or 0.0),
        "our_score": float(our_score or 0.0),
        "runs": float(runs),
    }


# ---------------------------------------------------------------------- report
def _wrapped(lines: list[str]) -> str:
    """A section's lines as Markdown: paragraphs wrapped at 95 columns as the rest of the docs
    are, tables and headings kept whole."""
    wrapped = []
    for line in lines:
        keep = line.startswith(("|", "#")) or len(line) <= 95
        wrapped += [line] if keep else textwrap.wrap(line, 95, break_on_hyphens=False)
    return "\n".join(wrapped).rstrip() + "\n"


def markdown(results: Results, n: int, command: str) -> str:
    """The docs/benchmarks.md section for these results."""
    load = os.getloadavg()
    lines = [
        SECTION,
        "",
        f"Measured {dt.date.today().isoformat()} with `{command}` on {os.cpu_count()} cores "
        f"({cpu_model()}), sandbox: {sandbox.backend()[1]}; load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min). {n} submissions per "
        "assignment (solutions, blank notebooks and each flawed sample in turn), each batch "
        "into a fresh gradebook. Submissions per minute are end to end: worker start-up, "
        "planning, the gradebook and every results.json and feedback.html included. Seconds "
        f"are medians per submission; sandboxes {'warm' if warm.wanted()[0] else 'cold'}; "
        "'sandbox' is the run's wall time in its sandbox, 'calls' the part of it the graded calls "
        "took as the supervisor timed them (the student's functions, both runs of each call), "
        "'cold start' what a fresh sandboxed interpreter takes to start and import the "
        "pre-imports (which a warm run does not pay).",
        "",
        "| assignment | workers | submissions/min | median s | p90 s | stage | sandbox "
        "| calls | cold start | checks | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in results.runs:
        start = results.starts.get(run.assignment)
        start_text = f"{start:.2f}" if start is not None else "n/a"
        lines.append(
            f"| {run.assignment} | {run.workers} | {run.per_minute:.1f} | "
            f"{run.medians['total']:.2f} | {run.p90_total:.2f} | {run.medians['stage']:.2f} | "
            f"{run.medians['sandbox']:.2f} | {run.medians['calls']:.2f} | {start_text} | "
            f"{run.medians['checks']:.2f} | "
            f"{run.failed} |"
        )
    if results.otter:
        o = results.otter
        lines += [
            "",
            f"otter-grader (`otter run`, its own virtual environment) on problem A4 (CSC "
            f"encoding, benchmarks/otter/), the same A4-only notebook for both, median of "
            f"{int(o['runs'])} runs: otter {o['otter_median']:.2f} s per submission "
            f"(score {o['otter_score']:g} / 15), this grader {o['ours_median']:.2f} s (A4 "
            f"checks {o['our_score']:g} / 15, all of assignment A's calls and checks run); "
            f"ratio otter / ours = {o['otter_median'] / o['ours_median']:.2f}.",
        ]
    lines += [""] + results.notes
    return _wrapped(lines)


def dask_markdown(results: Results, n: int, rounds: int, command: str) -> str:
    """The docs/benchmarks.md section of the Dask comparison and the writer's cost."""
    loads = [load[0] for load in results.loads] or [os.getloadavg()[0]]
    started = ""
    if results.cluster_start is not None:
        started = (
            f" Starting and closing the local cluster with nothing to grade took "
            f"{results.cluster_start:.1f} s (inside each Dask batch's time)."
        )
    lines = [
        DASK_SECTION,
        "",
        f"Measured {dt.date.today().isoformat()} with `{command}` on {os.cpu_count()} cores "
        f"({cpu_model()}), sandbox: {sandbox.backend()[1]}; 1-minute load average after each "
        f"batch from {min(loads):.1f} to {max(loads):.1f}. {n} submissions per assignment, "
        f"{rounds} round(s) of the built-in pool and the Dask cluster on the same class "
        "(alternating which goes first), each batch into a fresh gradebook, end to end."
        + started
        + " Writer: Gradebook.record (one transaction) plus results.json and feedback.html, "
        "per stored result, timed inside the batch; 'busy' is its share of the batch's wall "
        "time.",
        "",
        "| assignment | round | workers | pool /min | Dask /min | Dask / pool | writer ms, "
        "pool | writer ms, Dask | writer busy, Dask |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for k, pair in enumerate(results.pairs):
        busy = sum(pair.dask.writer) / pair.dask.seconds
        lines.append(
            f"| {pair.assignment} | {k % rounds + 1} | {pair.dask.workers} | "
            f"{pair.pool.per_minute:.1f} | {pair.dask.per_minute:.1f} | {pair.ratio:.2f} | "
            f"{1000 * statistics.median(pair.pool.writer):.1f} | "
            f"{1000 * statistics.median(pair.dask.writer):.1f} | {100 * busy:.0f}% |"
        )
    lines.append("")
    for name in dict.fromkeys(pair.assignment for pair in results.pairs):
        ratios = [pair.ratio for pair in results.pairs if pair.assignment == name]
        parts = results.writer_alone.get(name, [])
        alone = sorted(a + b for a, b in parts)
        text = f"{name}: Dask / pool = {statistics.median(ratios):.2f} (median of {len(ratios)})."
        if alone:
            median = statistics.median(alone)
            p90 = alone[min(len(alone) - 1, int(0.9 * len(alone)))]
            text += (
                f" The writer alone: {1000 * median:.1f} ms per result (median, p90 "
                f"{1000 * p90:.1f} ms, {len(alone)} results; the gradebook's transaction "
                f"{1000 * statistics.median(a for a, _ in parts):.1f} ms, the result files "
                f"{1000 * statistics.median(b for _, b in parts):.1f} ms), so one writer stores "
                f"at most {60 / median:.0f} results per minute."
            )
        lines += [text, ""]
    return _wrapped(lines)


def warm_markdown(results: Results, n: int, rounds: int, command: str) -> str:
    """The docs/benchmarks.md section of the warm/cold comparison, with issue 16's targets."""
    loads = [load[0] for load in results.loads] or [os.getloadavg()[0]]
    lines = [
        WARM_SECTION,
        "",
        f"Measured {dt.date.today().isoformat()} with `{command}` on {os.cpu_count()} cores "
        f"({cpu_model()}), sandbox: {sandbox.backend()[1]}; 1-minute load average after each "
        f"batch from {min(loads):.1f} to {max(loads):.1f}. {n} submissions per assignment, "
        f"{rounds} round(s) per worker count of the same class graded with warm sandboxes "
        "(the default) and cold ones (`--cold`), alternating which goes first, each batch into "
        "a fresh gradebook, end to end (a warm batch's zygotes start inside its time). Median s "
        "is per submission, from its staging to its result's last file.",
        "",
        "| assignment | workers | round | cold /min | warm /min | warm / cold | cold median s "
        "| warm median s | cold / warm (median) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows: dict[tuple[str, int], list[WarmPair]] = {}
    for pair in results.warm_pairs:
        rows.setdefault((pair.assignment, pair.warm.workers), []).append(pair)
    for (name, count), pairs in rows.items():
        for k, pair in enumerate(pairs):
            cold, hot = pair.cold.medians["total"], pair.warm.medians["total"]
            lines.append(
                f"| {name} | {count} | {k + 1} | {pair.cold.per_minute:.1f} | "
                f"{pair.warm.per_minute:.1f} | {pair.ratio:.2f} | {cold:.2f} | {hot:.2f} | "
                f"{cold / hot:.2f} |"
            )
    lines.append("")
    for (name, count), pairs in rows.items():
        hot = statistics.median(p.warm.medians["total"] for p in pairs)
        per_minute = statistics.median(p.warm.per_minute for p in pairs)
        ratio = statistics.median(p.ratio for p in pairs)
        text = (
            f"{name}, {count} worker(s): warm {per_minute:.1f} submissions/min, {hot:.2f} s "
            f"median; warm / cold = {ratio:.2f} (medians of {len(pairs)} rounds)."
        )
        if name in TARGETS:
            met = "met" if hot <= TARGETS[name] else "NOT met"
            text += f" Target median <= {TARGETS[name]:.1f} s: {met}."
            calls = statistics.median(p.warm.medians["calls"] for p in pairs)
            text += f" Its graded calls alone took {calls:.2f} s (median)."
        if (name, count) == TARGET_PER_MINUTE[:2]:
            met = "met" if per_minute >= TARGET_PER_MINUTE[2] else "NOT met"
            text += f" Target >= {TARGET_PER_MINUTE[2]:.0f}/min: {met}."
        lines += [text, ""]
    return _wrapped(lines)


def record(path: Path, section: str) -> None:
    """Replace the section of `path` headed as `section`'s first line (other sections stay
    as they are; a new one goes at the end)."""
    heading = section.splitlines()[0]
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = text.rstrip("\n").splitlines()
    start = next((i for i, line in enumerate(lines) if line == heading), None)
    if start is None:
        lines += [""] + section.rstrip("\n").splitlines()
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        replacement = section.rstrip("\n").splitlines()
        if end < len(lines):
            replacement.append("")
        lines[start:end] = replacement
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="submissions per assignment")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--assignments", nargs="+", default=plugin.names(), metavar="NAME")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-grading"))
    parser.add_argument("--no-otter", action="store_true", help="skip the otter comparison")
    parser.add_argument("--otter-runs", type=int, default=5)
    parser.add_argument("--dask", metavar="SCHEDULER", help="also grade on Dask (local:2)")
    parser.add_argument("--rounds", type=int, default=3, help="pool/Dask rounds (default 3)")
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=["throughput", "dask", "warm"],
        default=["throughput", "dask", "warm"],
        help="what to measure and record (dask needs --dask)",
    )
    parser.add_argument("--record", metavar="MD", help="write the sections into this file")
    args = parser.parse_args(argv)
    work = Path(args.out)
    results = Results()
    throughput = "throughput" in args.sections
    on_dask = args.dask is not None and "dask" in args.sections
    if on_dask and dask_batch.parse_scheduler(args.dask)[0] == "local":
        results.cluster_start = cluster_start(args.dask)
    for name in args.assignments:
        info = plugin.get(name)
        class_dir = work / name / "class"
        counts = make_class(name, args.n, class_dir)
        print(f"{name}: generated {counts}", file=sys.stderr)
        start = sandbox_start(info.preimport)
        if start is not None:
            results.starts[name] = start
        for workers in args.workers if throughput else []:
            run = grade_batch(name, class_dir, workers, work / name)
            results.runs.append(run)
            print(
                f"{name} workers={workers}: {run.per_minute:.1f}/min, median "
                f"{run.medians['total']:.2f} s",
                file=sys.stderr,
            )
        if on_dask:
            bench_dask(name, class_dir, args.dask, args.rounds, work / name / "dask", results)
        if "warm" in args.sections:
            bench_warm(name, class_dir, args.workers, args.rounds, work / name / "warm", results)
    if throughput and not args.no_otter:
        bench_otter(work, args.otter_runs, results)
    command = "python benchmarks/bench_grading.py " + " ".join(argv or sys.argv[1:])
    sections = []
    if throughput:
        sections.append(markdown(results, args.n, command.strip()))
    if on_dask:
        sections.append(dask_markdown(results, args.n, args.rounds, command.strip()))
    if results.warm_pairs:
        sections.append(warm_markdown(results, args.n, args.rounds, command.strip()))
    for section in sections:
        print(section)
        if args.record:
            record(Path(args.record), section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
