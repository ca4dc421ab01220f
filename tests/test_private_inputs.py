"""Private call inputs (Call.private): what the grader writes for the sandbox.

A private input is split into one share per rank; job.json keeps only its name, axis and
shape, and each rank's shares go to a file of their own beside the job folder, which the
sandbox sees only as its own copy in /sealed (harness/sealed.py reads and deletes it). The
sandbox side is tested where it matters, by a hook that searches its own memory for the
other rank's gradient (tests/test_compress_plugin.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autograder import plugin
from autograder.checking.spec import Call
from autograder.course.settings import Course
from autograder.grading.job import job_data, private_shares, write_job
from autograder.sandbox.harness import codec
from autograder.sandbox.install import sealed_dir

GRADS = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4) + 0.123456  # (steps, world, n)


def _calls() -> list[Call]:
    return [
        Call("open", "f", (np.ones(2),)),
        Call(
            "ranks", "hook", kwargs={"grads": GRADS, "ratio": 0.5}, mode="m", private=("grads", 1)
        ),
    ]


def test_job_json_keeps_the_shape_and_leaves_the_values_out() -> None:
    manifest = plugin.get("compress-distributed")
    data = job_data(manifest, [], _calls())
    call = data["calls"][1]
    assert call["private"] == {"name": "grads", "axis": 1, "shape": [2, 3, 4]}
    assert codec.decode(call["kwargs"]) == {"ratio": 0.5}
    text = json.dumps(data)
    for value in GRADS.reshape(-1):  # neither as text nor as the codec's bytes
        assert f"{value:.4f}" not in text
    assert codec.encode(GRADS, strict=True)["__ndarray__"][:12] not in text


def test_each_rank_gets_only_its_own_share() -> None:
    slots = private_shares(_calls())
    assert len(slots) == 3
    for rank, shares in enumerate(slots):
        assert list(shares) == ["1"]  # call index 1 only
        np.testing.assert_array_equal(codec.decode(shares["1"]), GRADS[:, rank])


def test_write_job_puts_the_shares_beside_the_job_folder(tmp_path: Path) -> None:
    job = tmp_path / "job"
    job.mkdir()
    write_job(job, plugin.get("compress-distributed"), [], _calls())
    folder = sealed_dir(job)
    assert folder == tmp_path / "sealed" and not folder.is_relative_to(job)
    assert sorted(p.name for p in folder.iterdir()) == ["slot0.json", "slot1.json", "slot2.json"]
    mine = json.loads((folder / "slot2.json").read_text())
    np.testing.assert_array_equal(codec.decode(mine["1"]), GRADS[:, 2])
    assert "0.1234" not in (job / "job.json").read_text()


def test_a_private_input_that_is_not_an_input_is_refused() -> None:
    bad = Call("x", "hook", kwargs={"ratio": 0.5}, private=("grads", 1))
    with pytest.raises(ValueError, match="'grads' is not one of its kwargs"):
        job_data(plugin.get("compress-distributed"), [], [bad])
    bad = Call("y", "hook", kwargs={"grads": GRADS}, private=("grads", 3))
    with pytest.raises(ValueError, match="has no axis 3"):
        job_data(plugin.get("compress-distributed"), [], [bad])


def test_a_share_file_that_never_arrives_stops_those_calls_only(monkeypatch) -> None:
    """With rank 1's file missing, its keeper cannot start: the private calls are reported
    lost, naming why, and never made another way (a rank holding every share); the other
    checks are graded as usual."""
    from autograder import sandbox
    from autograder.grading import grade as grade_module
    from autograder.grading.grade import grade_submission
    from autograder.grading.job import write_job as real_write_job

    if sandbox.backend()[0] != "bwrap":
        pytest.skip("bubblewrap is not available")

    def without_slot1(job_dir, manifest, statements, calls) -> None:
        real_write_job(job_dir, manifest, statements, calls)
        (sealed_dir(job_dir) / "slot1.json").unlink()

    monkeypatch.setattr(grade_module, "write_job", without_slot1)
    name = "compress-distributed"
    result = grade_submission(plugin.get(name).solution_dir, name, Course(), student_id="s")
    lost = {c.id: c.message for c in result.checks if c.lost}
    assert set(lost) == {"c4.topk_hook", "c4.terngrad_hook", "c4.counted_hooks"}, lost
    assert "could not set up its private inputs (rank 1: FileNotFoundError)" in lost["c4.topk_hook"]


def test_what_a_rank_writes_on_its_report_pipe_is_only_a_claim_about_itself() -> None:
    """The supervisor's side of a rank's report pipe (round 8 of docs/trust.md): lines are
    split once, however many came (a flood of 2 MiB of newlines is read as empty lines and
    cut at REPORT_CAP, not re-split line by line); only the latest progress line and the first
    report or error are kept; and an error line yields an error record of its texts alone,
    whatever status or value it claims."""
    import os

    from autograder.sandbox.harness import sealed

    read, write = os.pipe()
    os.set_blocking(read, False)
    keeper = sealed._Keeper(pid=-1, go=-1, out=read, printed=-1)
    flood = b"\n" * (2 << 20)
    lines = [b"P 1\n", b"junk that is no line\n", b"P 2\n", b'R {"rows": [1.5]}\n']
    lines += [b'E {"status": "ok"}\n', b"P 3\n"]
    kept: list = []
    try:
        view = memoryview(b"".join(lines) + b"X [1, 2")  # the last line is not complete
        while view:
            view = view[os.write(write, view[: 1 << 16]) :]
            sealed._fold(kept, keeper.lines())
        got = keeper.lines()
    finally:
        os.close(write)
        os.close(read)
    assert kept == [("P", 2), ("R", {"rows": [1.5]})]
    assert got == [] and keeper.buffer == b"X [1, 2"

    read, write = os.pipe()
    os.set_blocking(read, False)
    keeper = sealed._Keeper(pid=-1, go=-1, out=read, printed=-1)
    try:
        taken = 0
        while taken < len(flood):
            taken += os.write(write, flood[taken : taken + (1 << 16)])
            keeper.lines()
        assert keeper.kept == len(flood) and keeper.buffer == b""
    finally:
        os.close(write)
        os.close(read)

    forged = {"error_type": "x", "status": "ok", "value": float("nan"), "error": "e" * 9000}
    record = sealed._error_record(forged)
    assert record["status"] == "error" and "value" not in record
    assert record["error_type"] == "x" and len(record["error"]) == 2000
    json.dumps(record, allow_nan=False)  # what the supervisor sends: never a crash
