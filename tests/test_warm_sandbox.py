"""Warm sandboxes (autograder/sandbox/warm.py, zygote.py): a run forked from a zygote sees the
sandbox a cold run sees, nothing of one submission reaches the next, the zygote is replaced
after MAX_SERVED runs and on any doubt, and a failed warm start or a zygote lost mid-run is
graded again cold. The attack suites and the selftest run warm too, since warm is the
default wherever it can run (root, bubblewrap >= 0.8)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from test_sandbox import ROOT, probe, run

from autograder.checking.spec import Call
from autograder.course.settings import Course
from autograder.grading.grade import grade_submission
from autograder.sandbox import warm

WARM = warm.wanted()[0]
needs_warm = pytest.mark.skipif(not WARM, reason=f"no warm sandboxes here: {warm.wanted()[1]}")
MODULES = warm.zygote_modules(["numpy"])  # distributed-sparse's, which test_sandbox.run uses

SEEN = r"""
import resource, signal
out = {}
status = open("/proc/self/status").read().splitlines()
keep = ("Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")
out["status"] = [line for line in status if line.split(":")[0] in keep]
out["uid_is_gid"] = os.getuid() == os.getgid() != 0
out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
out["pid1"] = open("/proc/1/cmdline", "rb").read().decode(errors="replace")
out["mounted"] = sorted({line.split()[4] for line in open("/proc/self/mountinfo")})
out["uptime"] = open("/proc/uptime").read() + open("/proc/loadavg").read()
out["fds"] = sorted(os.listdir("/proc/self/fd"))
out["env"] = dict(os.environ)
out["path"] = sys.path
out["flags"] = str(sys.flags)
out["rlimits"] = {n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith("RLIMIT_")}
out["interfaces"] = socket.if_nameindex()
out["host"] = os.uname().nodename
out["cwd"] = os.getcwd()
out["argv"] = sys.argv
out["signals"] = {s: str(signal.getsignal(s)) for s in (2, 13, 15, 17, 25)}
out["personality"] = open("/proc/self/stat").read().split()[8]
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    out["net"] = "connected"
except OSError as exc:
    out["net"] = type(exc).__name__
return out
"""


def _zygote() -> warm.Zygote | None:
    return next((z for k, z in warm._ZYGOTES.items() if k[2] == MODULES), None)


@needs_warm
def test_a_warm_run_sees_the_sandbox_a_cold_run_sees(tmp_path: Path, monkeypatch) -> None:
    hot = probe(tmp_path / "warm", SEEN)
    monkeypatch.setenv("EFFDL_SANDBOX", "cold")
    cold = probe(tmp_path / "cold", SEEN)
    assert isinstance(hot, dict) and isinstance(cold, dict), (hot, cold)
    assert "zygote.py" in hot.pop("pid1") and "harness.supervisor" in cold.pop("pid1")
    # the warm run mounts a /proc of its own PID namespace over bwrap's, and more of it
    # read-only; every mount point of the cold run is there
    assert set(cold.pop("mounted")) <= set(hot.pop("mounted"))
    assert hot == cold
    assert hot["pids"][0] == 1 and hot["uid_is_gid"] and hot["net"] != "connected"


@needs_warm
def test_nothing_of_one_submission_reaches_the_next_from_the_same_zygote(tmp_path: Path) -> None:
    leave = [
        (
            "answer",
            "import numpy, os, subprocess\n"
            "numpy._left_by_a = 'A'\n"
            "open('/tmp/left', 'w').write('A')\n"
            "open('/submission/left', 'w').write('A')\n"
            "os.environ['LEFT'] = 'A'\n"
            "background = subprocess.Popen(['sleep', '60'])\n"
            "def probe():\n    return background.pid\n",
        )
    ]
    first, output = run(tmp_path / "a", leave, [Call("p", "probe", timeout=20)])
    assert first.warm and output.calls[0].status == "ok"
    zygote = _zygote()
    served = zygote.served
    value = probe(
        tmp_path / "b",
        """
import numpy
return [hasattr(numpy, "_left_by_a"), os.path.exists("/tmp/left"),
        os.path.exists("/submission/left"), os.environ.get("LEFT"),
        sorted(int(p) for p in os.listdir("/proc") if p.isdigit())]
""",
    )
    assert _zygote() is zygote and zygote.served == served + 1  # the same zygote served both
    assert value[:4] == [False, False, False, None], value
    assert value[4][0] == 1 and len(value[4]) <= 4, value  # supervisor, loader, call process


@needs_warm
def test_the_zygote_is_replaced_after_max_served_and_on_doubt(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(warm, "MAX_SERVED", 2)
    warm.retire_all()
    pids = []
    for i in range(3):
        assert probe(tmp_path / str(i), "return 1") == 1
        pids.append(_zygote().proc.pid)
    assert pids[0] == pids[1] != pids[2]  # the third run needed a new one
    before = _zygote()
    hang = [("answer", "while True:\n    pass\n")]
    timed, _ = run(tmp_path / "hang", hang, [], wall_seconds=3)
    assert timed.timed_out and before.retired  # a run that did not end cleanly: replaced
    assert probe(tmp_path / "after", "return 2") == 2 and not _zygote().retired


@needs_warm
def test_a_failed_warm_start_is_graded_cold_and_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(warm, "PLACEHOLDER", ["/bin/false"])
    cells = [("answer", "def probe():\n    return 3\n")]
    result, output = run(tmp_path, cells, [Call("p", "probe", timeout=20)])
    assert not result.warm and output.calls[0].value == 3
    assert any("warm sandbox failed, graded cold" in n for n in result.staff_notes)


@needs_warm
def test_a_zygote_lost_during_a_run_is_graded_again_cold(tmp_path: Path) -> None:
    warm.retire_all()
    assert probe(tmp_path / "start", "return 0") == 0
    zygote = _zygote()

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            children = Path(f"/proc/{zygote.proc.pid}/task/{zygote.proc.pid}/children")
            if children.read_text().split():
                time.sleep(0.3)  # the run is under way
                os.kill(zygote.proc.pid, signal.SIGKILL)
                return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    cells = [
        ("answer", "x = 0\nfor i in range(30_000_000):\n    x += i\ndef probe():\n    return x\n")
    ]
    result, output = run(tmp_path / "lost", cells, [Call("p", "probe", timeout=60)])
    killer.join()
    assert zygote.retired and not result.warm
    assert any("graded again cold" in n for n in result.staff_notes), result.staff_notes
    assert output.calls[0].value == sum(range(30_000_000))


@needs_warm
@pytest.mark.parametrize("name", ["distributed-sparse", "prune-quantize"])
def test_warm_and_cold_grade_the_solution_alike(name: str, monkeypatch) -> None:
    hot = grade_submission(ROOT / "solutions" / name, name, Course())
    monkeypatch.setenv("EFFDL_SANDBOX", "cold")
    cold = grade_submission(ROOT / "solutions" / name, name, Course())

    def seen(result):
        return [(c.id, c.status, c.points, c.message) for c in result.checks]

    assert seen(hot) == seen(cold) and not [c for c in hot.checks if c.lost]


@needs_warm
def test_the_cold_flag_grades_without_a_zygote(tmp_path: Path, monkeypatch) -> None:
    from autograder import cli

    monkeypatch.setenv("EFFDL_SANDBOX", "")  # restored after the test, as --cold changes it
    assert probe(tmp_path / "warm", "return 1") == 1
    zygote, served = _zygote(), _zygote().served
    solution = ROOT / "solutions" / "distributed-sparse"
    args = ["grade", str(solution), "--assignment", "distributed-sparse", "--cold"]
    assert cli.main([*args, "--out", str(tmp_path / "graded")]) == 0
    assert os.environ["EFFDL_SANDBOX"] == "cold"
    assert _zygote() is zygote and zygote.served == served  # the grading went around it
    assert (tmp_path / "graded").is_dir()


IDS = [
    (
        "answer",
        "objects = [object(), int('1234567890123'), bytes(5), [], {}, 'x' * 40, bytearray(9)]\n"
        "H = hash(tuple(id(o) for o in objects))\n"
        "def probe():\n    return H\n",
    )
]


def _top_level_ids(folder: Path) -> int:
    """What a notebook's top level computed from the ids of fresh objects."""
    _, output = run(folder, IDS, [Call("p", "probe", timeout=20)])
    return output.calls[0].value


@needs_warm
def test_object_addresses_repeat_across_runs_and_zygotes(tmp_path: Path) -> None:
    """Every run is forked from the same zygote state, and a new zygote starts in the state
    the old one did: id()-based answers repeat whatever ran before (a run that forked many
    processes, a run that timed out and retired the zygote)."""
    seen = [_top_level_ids(tmp_path / "first")]
    busy = "pids = [subprocess.Popen(['true']) for _ in range(50)]\nreturn len(pids)"
    assert probe(tmp_path / "busy", busy) == 50
    seen.append(_top_level_ids(tmp_path / "after-busy"))
    timed, _ = run(tmp_path / "hang", [("answer", "while True:\n    pass\n")], [], wall_seconds=3)
    assert timed.timed_out
    seen += [_top_level_ids(tmp_path / f"fresh{i}") for i in range(2)]
    assert len(set(seen)) == 1 and isinstance(seen[0], int), seen


STACK = """
import inspect
frames = inspect.stack()
bottom = frames[-1].frame
return [[f.function for f in frames], sorted(bottom.f_globals), sys.getrecursionlimit(),
        sys.orig_argv[-4:], sorted(vars(sys.modules["__main__"]))]
"""


@needs_warm
def test_no_frame_or_name_of_the_zygote_is_left_to_student_code(tmp_path, monkeypatch) -> None:
    """The supervisor runs from the bottom frame with the -c line's names, as in the cold
    sandbox: the same stack (so the same recursion depth), nothing of the zygote to read."""
    hot = probe(tmp_path / "warm", STACK)
    monkeypatch.setenv("EFFDL_SANDBOX", "cold")
    cold = probe(tmp_path / "cold", STACK)
    assert hot == cold, (hot, cold)
    assert not any("serve" in name for name in hot[0])


@needs_warm
def test_a_warm_run_is_charged_the_memory_a_cold_run_is(monkeypatch) -> None:
    """What a run inherits from its zygote is charged to the zygote's control group: the
    run's cap is lowered by the zygote's own memory, and its reported peak includes it."""
    from autograder import sandbox

    runs = []
    real = sandbox.run_harness

    def kept(*args, **kwargs):
        runs.append(real(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(sandbox, "run_harness", kept)
    name = "prune-quantize"
    grade_submission(ROOT / "solutions" / name, name, Course())
    monkeypatch.setenv("EFFDL_SANDBOX", "cold")
    grade_submission(ROOT / "solutions" / name, name, Course())
    assert [r.warm for r in runs] == [True, False]
    peaks = [r.peak_memory_bytes for r in runs]
    if None in peaks:
        pytest.skip("no control group here, so no peak to compare")
    assert abs(peaks[0] - peaks[1]) < 0.2 * peaks[1], peaks


@needs_warm
def test_a_cold_run_past_its_wall_limit_ends_at_once(tmp_path: Path, monkeypatch) -> None:
    """The supervisor is in a session of its own and loses bwrap's kill-on-exit when it
    drops root: a timed-out cold run kills the uid's processes, so nothing it does after its
    limit reaches the grader (before, a statement that ended after the limit was still
    heard for up to 2 s)."""
    monkeypatch.setenv("EFFDL_SANDBOX", "cold")
    cells = [
        ("answer", "for k in range(60_000_000):\n    pass\n"),
        ("answer", "print('AFTER THE LIMIT')\n"),
    ]
    result, _ = run(tmp_path, cells, [], wall_seconds=1)
    assert result.timed_out and result.leftover_processes == 0
    assert "AFTER THE LIMIT" not in (tmp_path / "out" / "stdout.txt").read_text()


def test_the_grader_and_the_zygote_agree_on_their_protocol() -> None:
    """zygote.py runs alone (standard library only), so the few numbers both sides use are
    written twice: they must agree."""
    from autograder.sandbox import zygote

    assert zygote.REQUEST_BYTES == warm.REQUEST_BYTES
    assert zygote.NAMESPACES == warm.NAMESPACES
    assert zygote.SETUP_FAILED == warm.SETUP_FAILED
    from autograder.sandbox import run as sandbox_run

    names = [f"RLIMIT_{name}" for name in zygote.RLIMITS]
    import resource

    assert [getattr(resource, n) for n in names] == list(sandbox_run.RLIMIT_KINDS)


@needs_warm
def test_a_supervisor_whose_set_up_fails_is_graded_cold(tmp_path: Path, monkeypatch) -> None:
    """The zygote's fork starts, but its set-up fails before the supervisor runs (here an
    rlimit above the hard maximum): nothing of the submission ran, so it is graded cold."""
    real = warm.start

    def broken(zygote, bwrap_cmd, popen, request, groups):
        limits = list(request["rlimits"])
        limits[3] = 1 << 40  # RLIMIT_NOFILE beyond what the kernel allows
        return real(zygote, bwrap_cmd, popen, {**request, "rlimits": limits}, groups)

    monkeypatch.setattr(warm, "start", broken)
    cells = [("answer", "def probe():\n    return 4\n")]
    result, output = run(tmp_path, cells, [Call("p", "probe", timeout=20)])
    assert not result.warm and output.calls[0].value == 4
    assert any("set-up failed" in n for n in result.staff_notes), result.staff_notes
