"""The trust boundary against an independent attacker (issue 12), by design: what crosses it
and every artifact made from it are capped before the work; one submission never stops a
class; submission times come from the submission system; student code cannot reach the
supervisor; a grade is reproducible or says it is not."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from classkit import ASSIGNMENT, solution_folder
from test_sandbox import needs_bwrap, probe, run

from autograder.checking.spec import Call
from autograder.commands import batch
from autograder.course import late
from autograder.course.settings import AssignmentSettings, Course
from autograder.gradebook import Gradebook
from autograder.gradebook.store import MAX_RESULT_CHARS
from autograder.grading import result as model
from autograder.grading import suite
from autograder.grading.grade import not_graded
from autograder.grading.outputs import MAX_CALLS_BYTES, MAX_FILE_BYTES, read_output
from autograder.grading.result import CheckResult, GradeResult, bounded, bounded_plot
from autograder.grading.score import score_of
from autograder.publishing.feedback import render_feedback
from autograder.publishing.results_json import results_dict
from autograder.publishing.svgplot import line_plot
from autograder.sandbox import run as sandbox_run
from autograder.sandbox.cleanup import remove_tree
from autograder.sandbox.harness import codec, protocol
from autograder.sandbox.harness.calls import RERUN_SHARE

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- the boundary
def test_one_value_is_capped_as_a_whole_before_it_is_encoded() -> None:
    part = np.zeros(codec.VALUE_BYTES_CAP // 8 // 2)  # each part well under the cap
    with pytest.raises(codec.TooLarge, match="MiB once encoded"):
        codec.encode((part, part.copy(), part.copy()))
    with pytest.raises(codec.TooLarge, match="numbers, strings and containers"):
        codec.encode([[0] * 1000 for _ in range(codec.VALUE_ITEMS_CAP // 1000 + 1)])
    with pytest.raises(codec.TooLarge):  # a stacked list is refused before np.stack copies it
        codec.encode([np.zeros(10_000) for _ in range(200)])
    with pytest.raises(codec.TooLarge):  # 20,000 accented characters are 120,000 in JSON
        codec.encode(["\u00e9" * codec.STRING_CAP] * 100)
    honest = (np.zeros((201, 3)), [0.5] * 5000, {"a": "b"})
    text = json.dumps(codec.encode(honest))
    assert len(text) < codec.VALUE_BYTES_CAP
    assert codec.decode(json.loads(text))[1] == [0.5] * 5000
    big_input = np.zeros(codec.VALUE_BYTES_CAP // 4)  # the grader's own inputs: not capped
    assert codec.encode(big_input, strict=True)["shape"] == [codec.VALUE_BYTES_CAP // 4]


def _channel(records: dict[int, bytes], events: list[dict] | None = None) -> bytes:
    """A channel as the supervisor writes it (protocol.py): events, then records."""
    data = [protocol.frame(protocol.EVENT, 0, json.dumps(e).encode()) for e in events or []]
    data += [protocol.frame(protocol.RECORD, n, raw) for n, raw in records.items()]
    return b"".join(data)


def test_the_grader_caps_what_it_reads_before_parsing_it() -> None:
    ok = json.dumps({"status": "ok", "value": [1.0, 2.0]}).encode()
    too_big = b'{"status": "ok", "value": "' + b"x" * MAX_FILE_BYTES + b'"}'
    commas = b'{"status": "ok", "value": [' + b"[]," * 1_500_000 + b"[]]}"
    big = json.dumps({"status": "ok", "value": "y" * (MAX_FILE_BYTES - 1000)}).encode()
    channel = _channel({0: ok, 1: too_big, 2: commas, **{n: big for n in range(3, 9)}})
    started = time.perf_counter()
    output = read_output(channel, 9)
    assert time.perf_counter() - started < 10
    status = [c.status for c in output.calls]
    assert status[:3] == ["ok", "too_large", "too_large"]
    # all records together are capped: the largest are refused first, until the rest fit
    kept = [n for n in range(3, 9) if status[n] == "ok"]
    assert len(kept) == MAX_CALLS_BYTES // len(big) and all(
        status[n] == "too_large" for n in range(3, 9) if n not in kept
    )
    assert "too large" in output.calls[1].error


def test_long_events_cannot_grow_the_notes() -> None:
    events = [{"ev": "note", "text": "\u00e9" * 5000} for _ in range(200)]
    events += [{"ev": "stmt_skipped", "k": 0, "cell": "c" * 50_000, "line": 10**40}] * 45
    events += [{"ev": "stmt_end", "k": 1, "ok": False, "error": "e" * 50_000}] * 45
    output = read_output(_channel({}, events), 0)
    assert len(output.notes) <= 41 and max(len(n) for n in output.notes) <= 500
    assert "more notes" in output.notes[-1]
    assert len(output.skipped) <= 40 and len(output.skipped[0]["cell"]) <= 500
    assert output.skipped[0]["line"] is None  # a number too large to quote is dropped
    assert len(output.failed_statements) <= 40


# ----------------------------------------------------------------------------- artifacts
def _worst_result(assignment: str) -> GradeResult:
    """A result with every part at (and beyond) its cap, in the characters that JSON makes
    longest: what bounded() must keep under a gradebook row."""
    specs = suite.load(assignment).specs
    long = "\u00e9" * 10**5
    checks = [
        CheckResult(s.id, s.problem, s.title, s.function, s.extra_credit, 1.0, "failed", 0.0, long)
        for s in specs
    ]
    curves = {f"c{k}" * 30: np.random.default_rng(k).normal(size=10**5) for k in range(100)}
    plot = {"problem": "A" * 100, "title": long, "series": curves, "reference": curves}
    return GradeResult(
        student_id="s",
        assignment=assignment,
        status="not graded",
        error=long,
        checks=checks,
        notebook=long,
        variant_claimed=long,
        notes=[long] * 500,
        stdout=long * 10,
        staff_notes=[long] * 100,
        plots=[dict(plot) for _ in range(100)],
    )


@pytest.mark.parametrize("assignment", ["distributed-sparse", "prune-quantize"])
def test_every_result_is_bounded_by_construction(assignment: str) -> None:
    result = bounded(_worst_result(assignment))
    stored = json.dumps(result.to_dict())  # as the gradebook stores it (ASCII escapes)
    assert len(stored) < MAX_RESULT_CHARS / 2, len(stored)
    assert json.dumps(bounded(GradeResult.from_dict(json.loads(stored))).to_dict()) == stored
    score = score_of(result)
    assert len(json.dumps(results_dict(result, score), indent=2)) < MAX_RESULT_CHARS / 2
    page = render_feedback(result, score)
    assert len(page) < 4 * 2**20
    plot = result.plots[0]
    assert len(result.plots) == model.MAX_PLOTS
    assert len(plot["series"]) == model.MAX_CURVES and "more curves not drawn" in plot["title"]
    assert all(v.size <= model.MAX_POINTS for v in plot["series"].values())
    assert plot["x_step"] == -(-(10**5) // model.MAX_POINTS)


def test_a_plot_is_cut_before_its_curves_are_converted() -> None:
    class Curves(dict):
        """Thousands of curves, of which only the first few may ever be read."""

        read = 0

        def items(self):
            for k in range(5000):
                Curves.read += 1
                yield f"W[{k}]", np.arange(10**6, dtype=np.float32)

        def __len__(self) -> int:
            return 5000

    started = time.perf_counter()
    plot = bounded_plot("A2.2", "W", Curves(), {"ref": np.arange(201.0)})
    svg = line_plot("W", Curves(), {"ref": np.arange(201.0)})
    assert time.perf_counter() - started < 5
    assert Curves.read <= 2 * model.MAX_CURVES
    assert (
        len(plot["series"]) == model.MAX_CURVES and plot["series"]["W[0]"].size <= model.MAX_POINTS
    )
    assert len(svg) < 150_000 and svg.count("<polyline") <= 2 * model.MAX_CURVES
    assert bounded_plot("p", "t", {"bad": [object()], "ok": [1.0]}, {})["series"].keys() == {"ok"}


def test_the_gradebook_stores_any_result(tmp_path: Path) -> None:
    with Gradebook.open(tmp_path / "gb.sqlite") as book:
        result = _worst_result(ASSIGNMENT)
        result.status = "graded"
        sid = book.record(result, "x", None, None, False, "new", None)
        stored = book.result(sid)
    assert len(stored.notes) <= model.MAX_NOTES
    assert all(len(c.message) <= model.MESSAGE_CHARS for c in stored.checks)


# ----------------------------------------------------------------------------- the class
def test_remove_tree_handles_deep_trees_links_and_locked_folders(tmp_path: Path) -> None:
    top = tmp_path / "top"
    top.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the submission's")
    current = os.open(top, os.O_RDONLY)
    for level in range(1500):
        os.mkdir("d" * 100, dir_fd=current)
        deeper = os.open("d" * 100, os.O_RDONLY, dir_fd=current)
        os.symlink(str(outside), "link", dir_fd=deeper)
        if level == 700:
            os.fchmod(deeper, 0o000)
        os.close(current)
        current = deeper
    os.close(current)
    assert remove_tree(top) == 0 and not top.exists()
    assert (outside / "keep.txt").read_text() == "not the submission's"
    os.symlink(outside, tmp_path / "link")
    assert remove_tree(tmp_path / "link") == 0 and (outside / "keep.txt").exists()
    assert remove_tree(tmp_path / "missing") == 0


def test_a_stale_deep_work_folder_never_stops_the_next_batch(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(batch.tempfile, "gettempdir", lambda: str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{batch.WORK_PREFIX}{dead.pid}"
    stale.mkdir()
    current = os.open(stale, os.O_RDONLY)
    for _ in range(1500):
        os.mkdir("d", dir_fd=current)
        deeper = os.open("d", os.O_RDONLY, dir_fd=current)
        os.close(current)
        current = deeper
    os.close(current)
    assert batch.sweep_stale_workdirs() == [] and not stale.exists()


def test_a_result_the_gradebook_refuses_is_recorded_as_not_graded(tmp_path, monkeypatch) -> None:
    """Whatever the gradebook refuses, the submission gets a row saying so, and the batch goes on."""
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    solution_folder(class_dir / "ann")
    real = Gradebook.record

    def refusing(self, result, *args, **kwargs):
        if result.graded:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return real(self, result, *args, **kwargs)

    monkeypatch.setattr(Gradebook, "record", refusing)
    book_path, out = tmp_path / "gb.sqlite", tmp_path / "out"
    summary = batch.grade_class(class_dir, ASSIGNMENT, book_path, out, progress=False)
    assert summary.failed == 1 and "could not be stored" in summary.failures["ann"]
    with Gradebook.open(book_path, create=False) as book:
        row = book.current(ASSIGNMENT)["ann"]
        assert row.status == "failed" and "could not be stored" in row.error
    assert json.loads((out / "ann" / "results.json").read_text())["score"] == 0


# ----------------------------------------------------------------------------- times
def test_results_and_feedback_name_the_time_source() -> None:
    due = dt.datetime(2026, 11, 6, 23, 59, tzinfo=dt.timezone.utc)
    settings = AssignmentSettings(due=due, late_policy="percent_per_day", late_percent_per_day=10)
    standing = late.lateness(settings, "ann", due + dt.timedelta(hours=2), "arrival")
    assert standing.source == "arrival" and standing.submitted == due + dt.timedelta(hours=2)
    result = not_graded(ASSIGNMENT, "ann", Course(), "x")
    score = score_of(result, lateness=standing)
    info = results_dict(result, score, lateness=standing)["extra_data"]["effdl"]["submission"]
    assert info["time_source"] == "arrival" and info["late"] is True
    assert info["submitted_at"].startswith("2026-11-07T01:59")
    page = render_feedback(result, score, lateness=standing)
    assert "the time the entry arrived in the class folder" in page
    none = results_dict(result, score_of(result))["extra_data"]["effdl"]["submission"]
    assert none["time_source"] is None and "no submission time" in none["time_source_text"]
    assert "no submission time" in render_feedback(result, score_of(result))


# ----------------------------------------------------------------------------- supervisor
@needs_bwrap
def test_student_code_cannot_reach_the_supervisor(tmp_path: Path) -> None:
    value = probe(
        tmp_path,
        """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
out = {}
for path in ("/proc/1/mem", "/proc/1/environ", "/proc/1/maps", "/proc/1/fd/1"):
    try:
        open(path, "rb").close()
        out[path] = "opened"
    except OSError as exc:
        out[path] = type(exc).__name__
pidfd = os.pidfd_open(1)
out["pidfd_getfd"] = [libc.syscall(438, pidfd, fd, 0) for fd in (0, 1, 2, 3, 4)]
out["ptrace"] = libc.ptrace(16, 1, None, None)
return out
""",
    )
    assert value["/proc/1/mem"] == value["/proc/1/environ"] == "PermissionError", value
    assert value["/proc/1/maps"] == value["/proc/1/fd/1"] == "PermissionError", value
    assert value["pidfd_getfd"] == [-1] * 5 and value["ptrace"] == -1


def test_the_sandbox_output_goes_to_a_drained_pipe_not_a_file(tmp_path: Path) -> None:
    """The sandbox's own stdout and stderr were a file beside the job, outside /out: now a
    pipe, of which the grader keeps the first bytes and only counts the rest."""
    loud = [sys.executable, "-c", "import os\nfor _ in range(64): os.write(1, b'z' * 2**20)"]
    proc = subprocess.Popen(loud, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    drain = sandbox_run._Drain(proc.stdout, 100)
    while proc.poll() is None:
        sandbox_run._wait_for_exit(proc, None, 0.25, drain)
    drain.finish(5.0)
    assert drain.head == b"z" * 100 and drain.dropped == 64 * 2**20 - 100
    assert "more bytes not kept" in drain.text()
    run(tmp_path, [("answer", "def f():\n    return 1\n")], [Call("f", "f")])
    assert not list(tmp_path.glob("*.txt")), list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- reproducible
def test_a_call_is_made_twice_and_must_agree(tmp_path: Path) -> None:
    source = (
        "import os, time\nimport numpy as np\n"
        "def given(rng):\n    return rng.random(3)\n"
        "def seeded():\n    return np.random.rand(3), __import__('random').random()\n"
        "def urandom():\n    return os.urandom(4).hex()\n"
        "def clock():\n    return time.perf_counter_ns()\n"
        "def errs_sometimes():\n"
        "    if os.urandom(1)[0] % 2:\n        raise ValueError('odd')\n    return 1\n"
        "def slow():\n    time.sleep(0.6)\n    return os.urandom(4).hex()\n"
        "def draws(rng):\n    return rng.random(2)\n"
        "def noisy_draws(rng):\n    return rng.random(2) + os.urandom(1)[0]\n"
    )
    calls = [
        Call("given", "given", kwargs={"rng": codec.Rng(5)}),
        Call("seeded", "seeded"),
        Call("urandom", "urandom"),
        Call("clock", "clock"),
        Call("slow", "slow", timeout=2.0),
        Call("draws", "draws", kwargs={"rng": codec.Rng(3)}, repeat=50),
        Call("noisy", "noisy_draws", kwargs={"rng": codec.Rng(3)}, repeat=50),
    ] + [Call(f"errs{k}", "errs_sometimes") for k in range(12)]
    _, output = run(tmp_path, [("answer", source)], calls)
    status = {c.id: r.status for c, r in zip(calls, output.calls)}
    assert status["given"] == status["seeded"] == status["draws"] == "ok"
    assert status["urandom"] == status["clock"] == status["noisy"] == "not_reproducible"
    assert len(output.calls[5].value) == 50  # the second run makes the first draws only
    assert "different values for the same inputs and seed" in output.calls[2].error
    assert status["slow"] == "ok" and output.not_rerun == 1  # over RERUN_SHARE of 2 s: once
    assert RERUN_SHARE * 2.0 < 0.6
    # an error in one run and a value in the other differ too (2^-11 to miss it 12 times)
    assert "not_reproducible" in {status[f"errs{k}"] for k in range(12)}


def test_top_level_draws_from_the_global_generators_are_the_same_each_time(tmp_path) -> None:
    source = "import numpy as np, random\nSEEN = (np.random.rand(), random.random())\n"
    values = [
        run(tmp_path / str(k), [("answer", source)], [Call("v", "SEEN", mode="value")])[1]
        .calls[0]
        .value
        for k in range(2)
    ]
    assert values[0] == values[1]


def test_a_call_that_runs_past_its_budget_still_times_out(tmp_path: Path) -> None:
    source = "import time\ndef f():\n    time.sleep(1.1)\n    return 1\n"
    _, output = run(tmp_path, [("answer", source)], [Call("f", "f", timeout=1.0)])
    assert output.calls[0].status == "timeout"
