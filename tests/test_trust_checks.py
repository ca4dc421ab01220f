"""The hidden checks' side of the trust boundary: every returned value is read against what
its call declares before a check sees it, a check that raises on a submission's data fails
that check without showing trusted code, hidden inputs are drawn per submission, the
true/false feedback reveals only counts by default, and code the course's starter gives
earns nothing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from autograder import plugin
from autograder.authoring import samples
from autograder.checking.returns import (
    Answers,
    Array,
    Dict,
    Flag,
    ListOf,
    Number,
    OneOf,
    Text,
    Tuple,
    Unreadable,
)
from autograder.checking.spec import Call, CheckSpec
from autograder.checking.sub import Sub
from autograder.checking.truefalse import score_true_false
from autograder.checking.verdict import CheckFailure, Partial
from autograder.course.settings import Course, CourseError, load_course
from autograder.grading import suite
from autograder.grading.grade import grade_submission
from autograder.grading.outputs import CallResult, HarnessOutput
from autograder.sandbox.harness.codec import Unsupported

ROOT = Path(__file__).resolve().parents[1]
TRUSTED = re.compile(r'Traceback|File "/|/autograder/|/checks/|compare\.py|site-packages|/work/')


# ----------------------------------------------------------------------------- returns
ODD_VALUES = [
    [[1.0, 2.0], [3.0]],  # ragged
    np.ones((3, 3)),  # a matrix where a vector belongs
    2.5,  # a number where a vector belongs
    "1, 2, 3",
    {"a": 1},
    None,
    Unsupported("builtins.object"),
    np.array([1 + 2j, 0, 0]),
    [1.0, None, 2.0],
    np.zeros(10**6 + 1),
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=lambda v: type(v).__name__)
def test_an_array_spec_fails_odd_values_with_a_plain_message(value) -> None:
    with pytest.raises(CheckFailure) as caught:
        Array((3,), max_size=10**6).read(value, "`f`")
    message = str(caught.value)
    assert message.startswith("`f`: expected numbers") and "shape (3,)" in message, message
    assert not TRUSTED.search(message), message


def test_an_array_spec_accepts_every_correct_form() -> None:
    want = np.array([1.0, -3.0, 2.0])
    for value in ([1, -3, 2], (1.0, -3.0, 2.0), want.astype(np.float32), want.reshape(3, 1)):
        got = Array((3,)).read(value, "f")
        assert got.dtype == np.float64 and np.array_equal(got, want)
    assert Array((None,), whole=True).read([0, 2, 5], "p").tolist() == [0, 2, 5]
    with pytest.raises(CheckFailure, match="whole numbers"):
        Array((None,), whole=True).read([0, 2.5], "p")


def test_a_number_spec_reads_one_number_and_refuses_a_vector() -> None:
    assert Number().read(3, "f") == 3.0
    assert Number().read(np.array([2.5]), "f") == 2.5
    with pytest.raises(CheckFailure, match="An array where a single number belongs"):
        Number().read(np.array([1.0, 2.0]), "`csc_max_K`")


def test_nested_specs_name_the_part_that_is_wrong() -> None:
    spec = Tuple(Number(), Array((2,)), names=("L", "grad"))
    assert spec.read((1, [1, 2]), "f")[1].tolist() == [1.0, 2.0]
    with pytest.raises(CheckFailure, match=r"`f`, grad: expected numbers"):
        spec.read((1, [1, 2, 3]), "`f`")
    runs = ListOf(Dict({"W": Array((2,))}), length=2, label="run")
    with pytest.raises(CheckFailure, match=r"`g`, run 1\['W'\]: expected numbers"):
        runs.read([{"W": [1, 2]}, {"W": [1]}], "`g`")
    with pytest.raises(CheckFailure, match=r"Missing: \['W'\]"):
        runs.read([{"W": [1, 2]}, {}], "`g`")
    assert OneOf((Array((3,)), Number())).read(4.0, "f") == 4.0
    assert Dict({"x": Flag(), "y": Text()}, optional=frozenset({"y"})).read(
        {"x": np.array(True), "z": object()}, "d"
    ) == {"x": True}


def test_answers_keep_readable_answers_and_mark_the_others() -> None:
    got = Answers().read({1.1: np.array(True), " 1.2 ": "F", "1.3": [1, 2]}, "TF")
    assert got["1.1"] is True and got["1.2"] == "F"
    assert isinstance(got["1.3"], Unreadable)


def _sub(calls: list[Call], values: list) -> Sub:
    output = HarnessOutput(calls=[CallResult("ok", v) for v in values])
    return Sub(calls, output, {}, {})


def test_a_check_sees_only_values_of_the_declared_kind() -> None:
    calls = [Call("c.1", "f", returns=Array((3,))), Call("c.2", "f", returns=Array((3,)))]
    sub = _sub(calls, [[1, 2, 3], [[1, 2], [3]]])
    assert sub.case("c.1").value.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(CheckFailure, match="ragged"):
        _ = sub.case("c.2").value


def test_a_check_that_raises_fails_for_the_submission_and_tells_only_the_staff() -> None:
    def buggy(sub: Sub) -> None:
        {}["missing"]

    spec = CheckSpec("x.bug", "a check with a bug", "X", 1.0, "f", False, buggy)
    result, fault = suite.run_check(spec, _sub([], []), 1.0)
    assert result.status == "failed" and result.fraction == 0.0
    assert not TRUSTED.search(result.message), result.message
    assert fault.startswith("x.bug: Traceback") and "KeyError" in fault


def test_every_call_of_every_check_declares_what_it_returns() -> None:
    for name in plugin.names():
        variant = plugin.get(name).variant(None, None)
        calls, _ = suite.load(name).plan(variant, seed=3)
        assert calls and all(c.returns is not None for c in calls), name


def test_a_call_without_a_declared_return_is_refused() -> None:
    checks = suite.load("distributed-sparse")
    broken = suite.CheckSuite(
        "x",
        [],
        [CheckSpec("x.c", "t", "X", 1, "f", False, lambda sub: None, lambda v: [Call("x", "f")])],
        "v",
    )
    with pytest.raises(RuntimeError, match="declares no returns"):
        broken.plan({}, 0)
    assert checks.plan(plugin.get("distributed-sparse").variant(None, None), 0)


# ----------------------------------------------------------------------------- hidden inputs
def _inputs(name: str, seed: int) -> dict[str, str]:
    variant = plugin.get(name).variant(None, None)
    calls, _ = suite.load(name).plan(variant, seed)
    return {c.id: repr((c.args, sorted(c.kwargs.items(), key=str))) for c in calls}


@pytest.mark.parametrize("name", ["distributed-sparse", "prune-quantize"])
def test_hidden_inputs_are_drawn_per_submission_and_reproducibly(name: str) -> None:
    one, again, other = _inputs(name, 1), _inputs(name, 1), _inputs(name, 2)
    assert one == again, "a regrade must draw the same inputs"
    assert one.keys() == other.keys(), "the calls are the same for every submission"
    drawn = {k for k in one if one[k] != other[k]}
    hidden = {"a2.closed_form.probe", "a3.topk.0", "a4.enc.probe0", "a4.maxk.0", "a3.trim.2"}
    hidden |= {"b3.layer.pruned.50", "b3.global.60", "b4.ste.asym3", "b4.ste.backward_large"}
    assert hidden & set(one) <= drawn


def test_the_submission_seed_depends_on_student_content_and_secret() -> None:
    seed = suite.submission_seed
    base = seed(None, "a", "ann", "h1")
    assert base == seed(None, "a", "ann", "h1")
    assert len({base, seed(None, "a", "bob", "h1"), seed(None, "a", "ann", "h2")}) == 3
    assert seed("a course secret", "a", "ann", "h1") != base


# ----------------------------------------------------------------------------- true/false
KEY = {"1.1": False, "1.2": True, "1.3": False}


def test_true_false_feedback_shows_counts_by_default() -> None:
    with pytest.raises(Partial) as caught:
        score_true_false({"1.1": True, "1.2": "yes", "1.3": Unreadable("a list")}, KEY)
    message = str(caught.value)
    assert message.startswith("1 of 3 correct.") and "1.3: a list is not True or False" in message
    assert "1.1" not in message, "the default names no wrong item"
    with pytest.raises(Partial, match="1.1: answered True"):
        score_true_false({"1.1": True, "1.2": True, "1.3": False}, KEY, reveal="items")


def test_course_setting_for_true_false_feedback(tmp_path: Path) -> None:
    path = tmp_path / "course.toml"
    path.write_text('[assignments.distributed-sparse]\ntrue_false_feedback = "items"\n')
    assert load_course(path).settings("distributed-sparse").true_false_feedback == "items"
    assert Course().settings("distributed-sparse").true_false_feedback == "count"
    path.write_text('[assignments.distributed-sparse]\ntrue_false_feedback = "all"\n')
    with pytest.raises(CourseError, match="true_false_feedback"):
        load_course(path)


# ----------------------------------------------------------------------------- the starter
# The course's own unfilled starter STE (ECE 661's FP_layers.py): the `bit is None` and
# `bit == 0` branches and the straight-through backward are given, the quantizer is not.
STARTER_STE = """
class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bit, symmetric=False):
        if bit is None:
            wq = w
        elif bit == 0:
            wq = w * 0
        else:
            # Lab3 (a), Your code here:
            {body}
        return wq

    @staticmethod
    def backward(ctx, g):
        return g, None, None
"""


@pytest.mark.parametrize("body", ["pass", "raise NotImplementedError"])
def test_the_course_starter_ste_scores_zero(tmp_path: Path, body: str) -> None:
    """The given branches earn nothing: every STE check scores 0 on the unfilled starter."""
    name = "prune-quantize"
    dest = tmp_path / "sub"
    shutil.copytree(plugin.get(name).solution_dir, dest)
    fp = dest / "FP_layers.py"
    fp.write_text(samples.replace_definition(fp.read_text(), "STE", STARTER_STE.format(body=body)))
    result = grade_submission(dest, name, Course(), student_id="starter")
    ste = {c.id: c for c in result.checks if c.function == "STE"}
    assert len(ste) == 5 and all(c.points == 0 for c in ste.values()), {
        k: c.points for k, c in ste.items()
    }
    assert not result.staff_notes
    others = [c for c in result.checks if c.function != "STE" and c.lost]
    assert not others, [c.id for c in others]


def test_odd_return_values_fail_their_checks_plainly(tmp_path: Path) -> None:
    """Every odd value fails its own check with a plain message; no check raises, nothing
    trusted (a source line, a path, a traceback) reaches the feedback."""
    from autograder.commands import selftest

    attack = next(
        s for s in selftest.attacks("distributed-sparse") if s.name == "odd_return_values"
    )
    ctx = selftest.Context(tmp_path)
    path = selftest.build_base(attack, ctx, tmp_path / "sub")
    result = grade_submission(path, "distributed-sparse", Course(), student_id="odd")
    assert result.lost == set(attack.expect_lost)
    assert not result.staff_notes, result.staff_notes
    for check in result.checks:
        assert check.status in ("passed", "failed", "partial")
        assert not TRUSTED.search(check.message), f"{check.id}: {check.message}"


def test_a_keep_probability_within_float32_rounding_of_one_may_go_either_way() -> None:
    """A2.5: |g| = T (1 + 1e-7) is clipped to T and always kept by a float64 run, while a
    float32 run may see it a hair under T and, with probability ~1e-7, drop it. Both steps
    are accepted; an entry clipped with room to spare must be kept."""
    from autograder.plugins.distributed_sparse.checks import test_a2_distributed as a2

    X, y, T, lr = np.array([[1.0]]), np.array([0.0]), 5.0, 0.1

    def ok(w0: float, kept: bool) -> bool:
        w1 = w0 - lr * T if kept else w0  # g = 2 w > 0
        W_hist = np.array([[w0], [w1]])
        return bool(a2._tern_steps_ok(W_hist, X, y, lr, T, T)[0])

    edge = 2.5 * (1 + 1e-7)  # g = 2 w = T (1 + 1e-7)
    assert ok(edge, kept=True) and ok(edge, kept=False)
    assert ok(5.0, kept=True) and not ok(5.0, kept=False)  # g = 2 T: always kept


def test_the_pooled_bias_test_keeps_its_false_fail_bound_and_sees_a_shared_bias() -> None:
    """stats.pooled_bias on fresh random draws (unseeded: the test is random, as the checks'
    inputs are): 400 entries with p in [0.05, 0.95], 200 draws. Correct draws pass at delta
    = 1e-7 (each of the 10 runs fails with probability < 1e-7, so the assertion does with
    < 1e-6); draws kept with p + 0.03 are caught (the shared excess, 2,400 outcomes, is 12
    standard deviations beyond the test's radius of about 930: a miss has probability far
    below 1e-20), as are draws pulled a fifth of the way towards 1/2, which only the half
    ranges can see (each half's excess, about 1,800, is 15 deviations beyond its radius)."""
    from autograder.checking.stats import pooled_bias

    rng = np.random.default_rng()
    p = rng.uniform(0.05, 0.95, size=400)
    p[:2] = (1.0, 0.0)  # sure outcomes take no part
    for _ in range(10):
        assert pooled_bias(rng.random((200, 400)) < p, p, 1e-7) is None
    biased = np.where((p > 0) & (p < 1), np.minimum(p + 0.03, 1.0), p)
    found = pooled_bias(rng.random((200, 400)) < biased, p, 1e-7)
    assert found is not None and found["count"] > found["expected"] + found["t"]
    assert (found["lo"], found["hi"]) == (0.0, 1.0)
    halfway = np.where((p > 0) & (p < 1), p + 0.2 * (0.5 - p), p)
    found = pooled_bias(rng.random((200, 400)) < halfway, p, 1e-7)
    assert found is not None and (found["lo"], found["hi"]) != (0.0, 1.0)


def test_identical_draws_are_blamed_on_no_randomness_not_on_a_shared_uniform() -> None:
    """Rounding to the nearest level gives the same draw every time; those draws are also
    'nested' (the likeliest outcomes happen), so they were once blamed on one random number
    shared by the entries (a held-out student's QSGD, round 13)."""
    from autograder.plugins.compress_distributed.checks.laws import repeat_problems

    p = np.linspace(0.3, 0.7, 80)
    same = np.tile(p >= 0.5, (200, 1)).astype(float)
    (problem,) = repeat_problems(same, p, 1e-8, "q(v)")
    assert "nothing is drawn at random" in problem and "shared" not in problem
    shared = (np.random.default_rng(1).random((200, 1)) < p).astype(float)
    (problem,) = repeat_problems(shared, p, 1e-8, "q(v)")
    assert "nothing is drawn at random" not in problem


def test_parts_that_doing_nothing_also_passes_earn_only_beside_real_work() -> None:
    """credit_parts(vacuous=...): a part whose right answer an idle function gives too (an
    all-zero input) earns its share only when another part passes."""
    from autograder.checking.credit import credit_parts

    def check(part: str) -> None:
        if part != "ok":
            raise CheckFailure(f"{part} is wrong")

    zero = lambda part: part == "zero"  # noqa: E731
    with pytest.raises(Partial) as idle:
        credit_parts(["zero", "a", "b"], lambda p: check("ok" if p == "zero" else p), vacuous=zero)
    assert idle.value.fraction == 0 and "doing nothing gives too" in str(idle.value)
    with pytest.raises(Partial) as some:
        credit_parts(["zero", "ok", "b"], lambda p: check("ok" if p == "zero" else p), vacuous=zero)
    assert abs(some.value.fraction - 2 / 3) < 1e-12
    credit_parts(["zero", "ok"], lambda p: check("ok"), vacuous=zero)  # all right: passes
