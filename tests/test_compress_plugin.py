"""Assignment C as a plug-in: its grades on per-student variants, its process-group fixture,
the sandbox's network boundary as a hook sees it, and `effdl lab compress-distributed`.

The solution, the blank and the flawed samples on the canonical variant are graded by
test_grading.py (it finds every plug-in); this file adds what is particular to C.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from autograder import plugin
from autograder.authoring.render import render_bundle
from autograder.course.settings import Course
from autograder.grading.grade import grade_submission
from autograder.grading.score import score_of
from autograder.plugins.compress_distributed.sandbox import fixtures, process_group
from effdl import ddp_hooks
from effdl.compression import simulate_topk_hook

ROOT = Path(__file__).resolve().parents[1]
NAME = "compress-distributed"
SECRET = "a test secret for assignment C, long enough"
SLOW = os.environ.get("EFFDL_SLOW_TESTS") == "1"
STUDENTS = [f"student{i:03d}" for i in range(200 if SLOW else 2)]


def _write(files: dict[str, bytes], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    return folder


@pytest.mark.parametrize("student", STUDENTS)
def test_solution_full_marks_and_blank_zero_on_a_student_variant(student, tmp_path) -> None:
    """The grader computes the student's variant from the secret and the id; the solution
    rendered for that variant loses nothing, the blank bundle scores 0."""
    variant = plugin.get(NAME).variant(SECRET, student)
    course = Course(secret=SECRET)
    solution = _write(render_bundle(NAME, variant, solution=True).files, tmp_path / "solution")
    result = grade_submission(solution, NAME, course, student_id=student)
    assert result.variant == variant["variant"] and not result.variant_mismatch
    failing = {c.id: c.message for c in result.checks if c.lost}
    assert not failing, f"{student}: the solution lost points: {failing}"
    blank = _write(render_bundle(NAME, variant, solution=False).files, tmp_path / "blank")
    result = grade_submission(blank, NAME, course, student_id=student)
    assert score_of(result).raw == 0
    assert not [c.id for c in result.checks if c.status == "error"]


# ----------------------------------------------------------------------------- the inputs
@pytest.mark.parametrize("seed", range(4))
def test_the_hook_checks_inputs_have_no_ties_where_a_check_decides(seed: int) -> None:
    """The hidden hook gradients drawn for a submission seed. Top-k probe: no near-tie at the
    cut by |p| (the law) nor by signed p (the mistake a cause is named for), with and without
    error feedback; TernGrad gradients: the four sums of the two ranks' halves differ for
    every entry, so the averages decode uniquely, and one entry per rank is at its scaler."""
    from autograder.plugins.compress_distributed.checks import test_c4_hooks as c4

    rng = np.random.default_rng(seed)
    probe = c4.draw_topk_probe(rng)
    assert probe.shape == c4.TOPK_PROBE_SHAPE
    for ef in (True, False):
        assert simulate_topk_hook(probe, c4.TOPK_PROBE_RATIO, ef)["cut_gap"] >= c4.CUT_GAP
    G = np.asarray(probe, dtype=np.float32)
    k = int(np.ceil(c4.TOPK_PROBE_RATIO * G.shape[2]))
    e = np.zeros(G.shape[1:], dtype=np.float32)
    for t in range(G.shape[0]):
        for r in range(G.shape[1]):
            p = G[t, r] + e[r]
            ordered = np.sort(p)[::-1]
            assert ordered[k - 1] - ordered[k] >= c4.CUT_GAP
            sent = np.zeros_like(p)
            top = np.argsort(-p, kind="stable")[:k]
            sent[top] = p[top]
            e[r] = p - sent
    tern = c4.draw_terngrad_hook(rng)
    half = np.abs(tern).max(axis=1, keepdims=True) * np.sign(tern) / 2
    sums = np.stack([0 * half[0], half[0], half[1], half[0] + half[1]])
    gaps = np.abs(sums[:, None, :] - sums[None, :, :])[~np.eye(4, dtype=bool)]
    assert gaps.min() > 0.1
    assert np.all(np.sum(np.abs(tern) == np.abs(tern).max(axis=1, keepdims=True), axis=1) >= 1)
    # the inputs differ from one submission seed to the next
    other = np.random.default_rng(seed + 100)
    assert not np.array_equal(c4.draw_topk_probe(other), probe)
    # the variant's own gradients (the notebook's G4) are never a hook call's input: every
    # entry is moved by a hidden amount, and the top-k cases keep what the check relies on
    variant = plugin.get(NAME).variant(SECRET, f"student{seed:03d}")
    G, ratio = np.array(variant["c4"]["grads"]), float(variant["c4"]["ratio"])
    topk, counted = c4.topk_calls(variant, seed), c4.counted_calls(variant, seed)
    for call in topk[:2] + counted[:2]:
        moved = call.kwargs["grads"].astype(np.float64)
        assert moved.shape == G.shape
        assert np.abs(moved - G).max() <= c4.HIDDEN_SHIFT + 1e-3
        assert np.mean(np.abs(moved - G) > 1e-6) > 0.95, "most entries are moved"
    assert c4.topk_usable(topk[0].kwargs["grads"], ratio)
    assert not np.array_equal(
        c4.topk_calls(variant, seed + 100)[0].kwargs["grads"], topk[0].kwargs["grads"]
    )


# ----------------------------------------------------------------------------- the fixture
def test_process_group_fixture_runs_a_hook_and_reports_it_as_data() -> None:
    grads = np.round(np.random.default_rng(3).uniform(-2, 2, size=(3, 2, 12)), 2)
    out = process_group.run_ddp_hook(
        ddp_hooks.topk_hook, {"grads": grads, "ratio": 0.25, "error_feedback": True}
    )
    assert out["errors"] == ["", ""] and not out["timed_out"]
    want = simulate_topk_hook(grads, 0.25, True)["averaged"]
    np.testing.assert_allclose(out["averaged"][:, 0], want, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(out["averaged"][:, 0], out["averaged"][:, 1])
    assert out["bytes"].tolist() == [[24, 24]] * 3


def _hangs_on_rank_one(state, bucket):  # noqa: ANN001 (a hook as students write them)
    import torch.distributed as dist

    if dist.get_rank() == 1:
        time.sleep(600)
    return ddp_hooks.allreduce_counted_hook(state, bucket)


def test_process_group_fixture_keeps_its_deadline_when_a_rank_hangs() -> None:
    """The group's deadline holds with a rank that hangs after joining (8 s: enough for both
    ranks to join on a loaded machine, where 4 s once was not)."""
    started = time.monotonic()
    out = process_group.run_ddp_hook(
        _hangs_on_rank_one, {"grads": np.ones((2, 2, 4)), "seconds": 8.0}
    )
    assert time.monotonic() - started < 20
    assert out["timed_out"]
    assert out["errors"][1] == (
        "rank 1 did not finish: it stopped after 0 of 2 steps when the group ran out of time"
    )
    assert np.isnan(out["averaged"]).all()


def _counts_beyond_int64(state, bucket):  # noqa: ANN001
    future = ddp_hooks.allreduce_counted_hook(state, bucket)
    state.bytes_sent += 2**70
    return future


def test_a_byte_count_beyond_int64_is_reported_missing_not_a_crash() -> None:
    grads = np.ones((2, 2, 4))
    out = process_group.run_ddp_hook(_counts_beyond_int64, {"grads": grads})
    assert out["errors"] == ["", ""]
    assert out["bytes"].tolist() == [[-1, -1], [-1, -1]]
    np.testing.assert_allclose(out["averaged"], grads)


def _dense_update(w, idx, val, y, lr):  # noqa: ANN001
    x = np.zeros(w.shape)
    x[idx] = val
    w -= lr * (-y / (1.0 + np.exp(y * float(x @ w)))) * x


def test_sgd_update_fixture_tells_a_sparse_update_from_one_that_writes_everything() -> None:
    from effdl.hogwild import sgd_update

    spec = {
        "w": np.linspace(-1, 1, 2048),
        "idx": np.array([600, 513, 900]),
        "val": np.array([0.5, -1.0, 2.0]),
        "y": -1.0,
        "lr": 0.1,
    }
    honest = fixtures.run_sgd_update(sgd_update, spec)
    want = spec["w"].copy()
    sgd_update(want, spec["idx"], spec["val"], -1.0, 0.1)
    assert not honest["faulted"] and honest["returned_none"]
    np.testing.assert_array_equal(honest["w"], want)
    assert fixtures.run_sgd_update(_dense_update, spec)["faulted"]


# ----------------------------------------------------------------------------- the network
def _host_address() -> str | None:
    """This machine's address on its first non-loopback interface (no packet is sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


class Listener:
    """A TCP server on every interface of the host that records who connected."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[str] = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(peer[0])
            conn.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def _networking_submission(folder: Path, host: str, port: int) -> Path:
    """The solution, with a topk_hook that first tries to connect to host:port and to the
    group's own loopback, prints what happened, then does the honest work."""
    shutil.copytree(
        ROOT / "solutions" / NAME,
        folder,
        ignore=shutil.ignore_patterns("answer_key.json", "rubric.md", ".effdl-build.json"),
    )
    hooks = folder / "comm_hooks.py"
    hooks.write_text(
        hooks.read_text()
        + f"""

_honest_topk_hook = topk_hook


def topk_hook(state, bucket):
    import socket

    for address in ({host!r}, "127.0.0.1"):
        try:
            socket.create_connection((address, {port}), timeout=2).close()
            print("NET", address, "connected", flush=True)
        except OSError as exc:
            print("NET", address, type(exc).__name__, exc, flush=True)
    return _honest_topk_hook(state, bucket)
"""
    )
    return folder


def test_a_hook_cannot_reach_the_host_and_the_grade_is_unaffected(tmp_path) -> None:
    from autograder import sandbox

    if sandbox.backend()[0] != "bwrap":
        pytest.skip("bubblewrap is not available: the network boundary is the sandbox's")
    host = _host_address()
    if host is None:
        pytest.skip("no non-loopback address to try")
    listener = Listener()
    try:
        sub = _networking_submission(tmp_path / "sub", host, listener.port)
        result = grade_submission(sub, NAME, Course(), student_id="networker")
        time.sleep(0.5)
        assert listener.accepted == [], "a hook in the sandbox reached the host"
    finally:
        listener.close()
    lines = [line for line in result.stdout.splitlines() if line.startswith("NET ")]
    assert lines and not [line for line in lines if "connected" in line], lines
    assert any(host in line and "unreachable" in line for line in lines), lines
    topk = next(c for c in result.checks if c.id == "c4.topk_hook")
    assert topk.status == "passed", topk.message
    assert not result.lost, sorted(result.lost)


def test_the_network_test_sees_a_connection_without_the_sandbox(tmp_path) -> None:
    """The control: graded without bubblewrap (EFFDL_SANDBOX=off), the same hook reaches the
    listener, so the test above would fail if the sandbox let a hook out."""
    host = _host_address()
    if host is None:
        pytest.skip("no non-loopback address to try")
    listener = Listener()
    try:
        sub = _networking_submission(tmp_path / "sub", host, listener.port)
        env = {**os.environ, "EFFDL_SANDBOX": "off", "PYTHONPATH": f"{ROOT}:{ROOT / 'lib'}"}
        proc = subprocess.run(
            [sys.executable, "-m", "autograder.cli", "grade", str(sub), "--assignment", NAME,
             "--out", str(tmp_path / "graded")],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
        )  # fmt: skip
        time.sleep(0.5)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert listener.accepted, "without the sandbox the hook should have connected"
    finally:
        listener.close()


# ------------------------------------------------------------------- private gradients
SEARCHING_HOOK = """

_honest_allreduce_counted_hook = allreduce_counted_hook
_G = np.array({grads!r})  # the variant's (steps, world, n), as float64: its float32 bytes
# are made here one entry at a time, never a row


def _bytes(xs):
    return b"".join(np.float32(x).tobytes() for x in xs)


def _found_in_memory(first, second):
    # every writable region of this process not backed by a file (heap, stack, anonymous
    # mappings: where decoded arrays live), searched for `first` followed by `second` (two
    # halves of 4 float32 entries, so that the 16 bytes are never one object here)
    import ctypes

    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: its own memory, readable to it
    hits = []
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            span, perms = parts[:2]
            if not perms.startswith("rw") or (len(parts) > 5 and not parts[5].startswith("[")):
                continue
            lo, hi = (int(x, 16) for x in span.split("-"))
            for start in range(lo, hi, 1 << 22):  # 4 MiB at a time: the sandbox caps memory
                try:
                    mem.seek(start)
                    data = mem.read(min(hi, start + (1 << 22) + 15) - start)
                except (OSError, OverflowError, ValueError):
                    continue
                at = data.find(first)
                while at >= 0:
                    if data[at + 8 : at + 16] == second:
                        hits.append(hex(start + at))
                    at = data.find(first, at + 1)
    return hits


def allreduce_counted_hook(state, bucket):
    mine = bucket.buffer().detach().numpy()
    rank = dist.get_rank()
    same = mine.size == _G.shape[2] and rank < _G.shape[1]
    steps = [t for t in range(_G.shape[0]) if same and np.array_equal(_G[t, rank], mine)]
    if steps and state.calls == 0:
        t = steps[0]
        row, other = _G[t, rank], _G[t, 1 - rank]
        if not _found_in_memory(_bytes(row[:2]), _bytes(row[2:4])):
            raise RuntimeError("the search is broken: it missed this rank's own gradient")
        where = _found_in_memory(_bytes(other[:2]), _bytes(other[2:4]))
        if where:
            raise RuntimeError(f"rank {{1 - rank}}'s gradient is in this process at {{where}}")
        if os.path.isdir("/sealed") and os.listdir("/sealed"):
            raise RuntimeError(f"share files left in /sealed: {{os.listdir('/sealed')}}")
    return _honest_allreduce_counted_hook(state, bucket)
"""


def test_a_rank_never_holds_another_ranks_gradients(tmp_path) -> None:
    """Graded in the sandbox, each rank's all-reduce hook searches its own memory (every
    writable region not backed by a file) for the other rank's gradient (float32, as the fixture holds it) before
    it communicates, and looks in /sealed: finding it there, or missing its own
    gradient (so the search is shown to work), fails the hook. Round 6 of docs/trust.md
    found every rank's gradients in each rank's memory; now each holds only its own."""
    from autograder import sandbox

    if sandbox.backend()[0] != "bwrap":
        pytest.skip("bubblewrap is not available: without a sandbox nothing is private")
    student = "student000"
    variant = plugin.get(NAME).variant(SECRET, student)
    folder = _write(render_bundle(NAME, variant, solution=True).files, tmp_path / "sub")
    hooks = folder / "comm_hooks.py"
    grads = np.asarray(variant["c4"]["grads"], dtype=np.float32).tolist()
    hooks.write_text(
        hooks.read_text().replace("import math\n", "import math\nimport os\n", 1)
        + SEARCHING_HOOK.format(grads=grads)
    )
    result = grade_submission(folder, NAME, Course(secret=SECRET), student_id=student)
    counted = next(c for c in result.checks if c.id == "c4.counted_hooks")
    assert counted.status == "passed", counted.message
    assert not result.lost, {c.id: c.message for c in result.checks if c.lost}


# ----------------------------------------------------------------------------- the lab
def test_effdl_lab_compress_distributed_writes_its_tables_and_plots(tmp_path, monkeypatch) -> None:
    """`effdl lab compress-distributed --quick --out DIR` through the command line, with the
    lab's sizes made tiny (the full quick run takes about a minute)."""
    from autograder.cli import main
    from effdl.train import compress_lab

    real = compress_lab.lab_config

    def tiny(quick: bool = False) -> dict:
        cfg = real(quick)
        cfg.update(
            c2_steps=100, c3_M=[8, 64], c3_sparsity=[4], c3_bits=[None, 4], c3_trials=1,
            qcs_steps=10, c4_epochs=1, c4_hooks=["allreduce", "topk_ef"],
            c4_start_method="fork", c5_n=1000, c5_epochs=1, c5_procs=[1, 2], c5_repeats=1,
            c5_count_updates=500,
        )  # fmt: skip
        return cfg

    monkeypatch.setattr(compress_lab, "lab_config", tiny)
    out = tmp_path / "lab"
    assert main(["lab", NAME, "--quick", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"results.json", "results.md", "c2_error_feedback.png", "c5_hogwild.png"} <= names
    results = json.loads((out / "results.json").read_text())
    assert results["quick"] is True and results["c2"]["steps"] == 100
    assert "## C4" in (out / "results.md").read_text()
