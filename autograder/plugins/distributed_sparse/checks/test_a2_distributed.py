"""Hidden checks for A2: parameter-server SGD, TernGrad and clipping.

Each function is called on the student's own numbers and on hidden inputs drawn afresh for
each submission (from its seed), and compared with effdl on the same inputs. Trajectories
are checked step by step from the student's own iterates; TernGrad by its laws, never by
one random stream: the value set, the keep frequency of every entry, independence across
draws (consecutive pairs, and no draw of a wide gradient repeating any other: the birthday
test) and across entries, the keep frequencies inside the training runs (decoded from the
steps), and that the given generator decides the draws (the same state gives the same
draws, another state other ones). Every loss that enters the distribution
test is recomputed from the run's own weights.

Conventions accepted (from the problem text; each is a correct reading of it):
- vectors as (d,) or (d, 1), lists or arrays, float32 or float64, numpy or torch;
- server_step: gradients as a list or an (n, d) array; W updated in place or not;
- terngrad: any way of drawing the Bernoulli variables (rng.random, rng.binomial, one
  uniform per entry in a loop, `u <= p` or `u < p`), from the given rng or from numpy's,
  Python's or torch's global generator (the grader seeds those before each call); an entry
  whose keep-probability is 1 is always kept, one within float32 rounding of 1 either way;
  not accepted: draws that ignore the generator state (a fresh unseeded generator, a
  counter or accumulator kept between calls), which the problem's "draw the randomness
  from rng" rules out;
- train_distributed: workers may draw in any order; losses recorded after each step.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from autograder.checking.compare import Mistake, assert_close, fmt
from autograder.checking.credit import credit_parts, distinct
from autograder.checking.refcache import cached_array
from autograder.checking.returns import Array, Number, OneOf, Tuple
from autograder.checking.spec import Call, Rng, check
from autograder.checking.stats import (
    binomial_interval,
    binomial_rejects,
    coincidence_probability,
    identical_pairs,
    ks_critical,
    ks_statistic,
    pooled_bias,
)
from autograder.checking.sub import Case, Sub
from autograder.checking.trajectory import check_trajectory
from autograder.checking.verdict import CheckFailure
from effdl import distributed as ref

RTOL, ATOL = 1e-5, 1e-7  # float32 arithmetic on these sizes stays far inside this
TERN_DRAWS = 2000
TERN_RUNS = 200  # student runs per TernGrad configuration (the in-training keep test's power)
TERN_STEPS = 12  # enough for the curves to spread (see the KS check); keeps grading fast
REF_RUNS = 300  # reference runs (cached per variant)
STATE_DRAWS = 50  # draws of the same-state and other-state terngrad calls
STATE_RUNS = 30  # runs of the same-state and other-state training calls
FALSE_FAIL = 1e-7  # per statistical check, below the 1e-6 the design asks for
F32_MARGIN = 1e-5  # a keep-probability within this (relative) of 1 may come out either way

TERN_G = np.array([-3.0, 1.0, 0.5, 4.0, 0.0])  # keep-probabilities 0.75, 0.25, 0.125, 1, 0
TERN_SEEDS = {"own_s": (11, 611), "given_s": (12, 612), "other": (21, 621)}  # (Rng, global)
TERN_SEEDS["wide"] = (15, 615)
WIDE_DRAWS = 200  # draws of the wide gradient: the birthday test and the pooled bias test


def _wide_g() -> np.ndarray:
    """402 entries: max |g| = 4 (kept for sure), a 0, and 400 entries of either sign with
    |g_j| in [0.2, 3.8], kept with probabilities in [0.05, 0.95]. Two independent draws agree
    on all 400 with probability below 1e-30, so a repeated draw is never chance; 200 draws
    are 80,000 outcomes, which the pooled test needs to see a bias of 0.015 shared by all."""
    rng = np.random.default_rng(2_026_12)
    mags = rng.integers(20, 381, size=400) / 100 * rng.choice([-1.0, 1.0], size=400)
    return rng.permutation(np.concatenate([[4.0, 0.0], mags]))


TERN_WIDE_G = _wide_g()


def _data(variant: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """The variant's A2 data: X (3, 3), y (3,), and its settings."""
    a2 = variant["a2"]
    return np.array(a2["X"], dtype=float), np.array(a2["y"], dtype=float), a2


def _run_spec(steps: int, n: int, d: int) -> Tuple:
    return Tuple(Array((steps + 1, d)), Array((steps, n)), names=("W_hist", "losses"))


# --------------------------------------------------------------------------- hidden inputs
def draw_system(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A hidden 3x3 system (X, y = X W*) for one submission: integer X entries in [-3, 3],
    integer W*, well conditioned (cond(X) <= 25), stable for averaged SGD at lr = 0.05
    (largest eigenvalue of X^T X at most 45), and asymmetric enough that y X^-1, X^-T y and
    the least-squares solution of the wrong system all differ from X^-1 y by at least 0.1."""
    rng = np.random.default_rng(seed)
    while True:
        X = rng.integers(-3, 4, size=(3, 3)).astype(float)
        W = rng.choice([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0], size=3)
        if abs(np.linalg.det(X)) < 2 or np.linalg.cond(X) > 25:
            continue
        if np.linalg.eigvalsh(X.T @ X).max() > 45:
            continue
        y = X @ W
        wrong = [
            y @ np.linalg.inv(X),
            np.linalg.solve(X.T, y),
            np.linalg.lstsq(X.T @ X, y, rcond=None)[0],
        ]
        if all(np.abs(w - W).max() >= 0.1 for w in wrong):
            return X, y


def draw_point(rng: np.random.Generator, d: int) -> np.ndarray:
    """A hidden point W off the path of training: halves in [-2, 2], none zero."""
    return rng.choice([-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0], size=d)


# --------------------------------------------------------------------------- A2.1
def closed_form_calls(variant: dict, seed: int) -> list[Call]:
    X, y, _ = _data(variant)
    PX, Py = draw_system(seed)
    return [
        Call("a2.closed_form.own", "closed_form", (X, y), returns=Array((3,))),
        Call("a2.closed_form.probe", "closed_form", (PX, Py), returns=Array((3,))),
    ]


@check(
    "a2.closed_form",
    points=4,
    problem="A2.1",
    title="closed form W* = X^-1 y",
    function="closed_form",
    calls=closed_form_calls,
)
def test_closed_form(sub: Sub) -> None:
    for case in sub.cases():
        A, b = case.args
        mistakes = [
            Mistake(
                "you computed y X^-1 (a row vector times the inverse) instead of X^-1 y; "
                "that is the solution of X^T W = y, with the transpose of X.",
                lambda A=A, b=b: b @ np.linalg.inv(A),
            ),
            Mistake(
                "you solved X^T W = y, with the transpose of X; solve X W = y.",
                lambda A=A, b=b: np.linalg.solve(A.T, b),
            ),
            Mistake(
                "you returned the least-squares solution of the wrong system.",
                lambda A=A, b=b: np.linalg.lstsq(A.T @ A, b, rcond=None)[0],
            ),
        ]
        label = "your X" if case.id.endswith(".own") else "a hidden X"
        assert_close(
            case.value,
            ref.closed_form(A, b),
            rtol=1e-6,
            atol=1e-8,
            what=f"closed_form on {label} = {fmt(A)}",
            mistakes=mistakes,
        )


# --------------------------------------------------------------------------- A2.2
GRADIENT = OneOf((Array((3,)), Number()))  # a number is read too, to say what it is


def worker_gradient_calls(variant: dict, seed: int) -> list[Call]:
    X, y, _ = _data(variant)
    rng = np.random.default_rng(seed)
    PX, Py = draw_system(seed)
    W1 = draw_point(rng, 3)
    while True:  # a residual and unequal entries, so that each known mistake differs
        W2, i = draw_point(rng, 3), int(rng.integers(3))
        if abs(PX[i] @ W2 - Py[i] - 0.5) >= 0.5 and np.ptp(PX[i]) > 0:
            break
    return [
        Call("a2.grad.1", "worker_gradient", (W1, X[0], float(y[0])), returns=GRADIENT),
        Call("a2.grad.2", "worker_gradient", (np.zeros(3), X[1], float(y[1])), returns=GRADIENT),
        Call("a2.grad.3", "worker_gradient", (W2, PX[i], float(Py[i]) + 0.5), returns=GRADIENT),
    ]


@check(
    "a2.worker_gradient",
    points=2,
    problem="A2.2",
    title="one worker's gradient",
    function="worker_gradient",
    calls=worker_gradient_calls,
)
def test_worker_gradient(sub: Sub) -> None:
    for case in sub.cases():
        w, x, t = case.args
        r = float(x @ w - t)
        what = f"worker_gradient(W={fmt(w)}, x={fmt(x)}, y={t:g})"
        got = case.value
        if isinstance(got, float):
            _explain_scalar_gradient(got, x, r, what)
        mistakes = [
            Mistake(
                "the factor 2 from differentiating the square is missing.", lambda x=x, r=r: x * r
            ),
            Mistake(
                "the sign is flipped: the gradient of (x.W - y)^2 is 2 x (x.W - y).",
                lambda x=x, r=r: -2 * x * r,
            ),
            Mistake(
                "the gradient collapsed to the same value in every coordinate.",
                lambda r=r: np.full(3, 2 * r),
            ),
        ]
        assert_close(
            got,
            ref.worker_gradient(w, x, t),
            rtol=1e-6,
            atol=1e-9,
            what=what,
            mistakes=mistakes,
        )


def _explain_scalar_gradient(got: float, x: np.ndarray, r: float, what: str) -> None:
    """A single number where the (3,) gradient belongs, with the cause it matches, if any."""
    full = 2 * x * r
    causes = (
        (full.sum(), "the gradient collapsed to a scalar: the sum of its entries was returned"),
        (2 * r, "the gradient collapsed to the scalar 2 (x.W - y): the factor x is missing"),
        (full.mean(), "the gradient collapsed to a scalar: the mean of its entries was returned"),
    )
    cause = next((c for value, c in causes if np.isclose(got, value, rtol=1e-6, atol=1e-9)), "")
    raise CheckFailure(
        f"{what} returned the single number {got:.8g}: the gradient is a vector of shape (3,)"
        f", expected {fmt(full)}."
        + (f"\n  Likely cause: {cause}, so all weights would move together." if cause else "")
    )


def server_step_calls(variant: dict, seed: int) -> list[Call]:
    X, _, _ = _data(variant)
    rng = np.random.default_rng(seed)
    W1, W2 = draw_point(rng, 3), draw_point(rng, 3)
    while True:  # column means must differ from row means (the wrong-axis mistake)
        G = rng.integers(-8, 9, size=(3, 3)) / 2
        if np.abs(G.mean(axis=0) - G.mean(axis=1)).max() >= 0.5:
            break
    return [
        Call("a2.server.list", "server_step", (W1, [X[0], X[1], X[2]], 0.1), returns=Array((3,))),
        Call("a2.server.array", "server_step", (W2, G, 0.05), returns=Array((3,))),
    ]


@check(
    "a2.server_step",
    points=2,
    problem="A2.2",
    title="server step averages the gradients",
    function="server_step",
    calls=server_step_calls,
)
def test_server_step(sub: Sub) -> None:
    for case in sub.cases():
        W, grads, lr = case.args
        grads = np.asarray(grads, dtype=float)
        mistakes = [
            Mistake(
                "the gradients were summed; the server should average them "
                "(summing triples the step and diverges at lr = 0.1).",
                lambda g=grads, lr=lr, W=W: W - lr * g.sum(axis=0),
            ),
            Mistake(
                "the step was added instead of subtracted.",
                lambda g=grads, lr=lr, W=W: W + lr * g.mean(axis=0),
            ),
            Mistake(
                "the mean was taken over the wrong axis (each worker's own coordinates); "
                "average the workers' gradients: axis 0 of the (n_workers, d) stack.",
                lambda g=grads, lr=lr, W=W: W - lr * g.mean(axis=1),
            ),
        ]
        assert_close(
            case.value,
            ref.server_step(W, grads, lr),
            rtol=1e-6,
            atol=1e-9,
            what=f"server_step(W={fmt(W)}, grads, lr={lr})",
            mistakes=mistakes,
        )


def _worker_grads(W, X, y, clip=None):
    """Every worker's (clipped) gradient at every row of W: W (..., d) -> (..., n, d).

    The batch form of ref.worker_gradient (2 x_i (x_i . W - y_i)) and ref.clip_gradient.
    """
    G = 2.0 * (W @ X.T - y)[..., None] * X
    return G if clip is None else ref.clip_gradient(G.ravel(), clip).reshape(G.shape)


def _ps_batch_step(X, y, lr, clip=None):
    def batch(W):
        return W - lr * _worker_grads(W, X, y, clip).mean(axis=-2)

    return batch


def _ps_step(X, y, lr, clip=None):
    def step(W):
        grads = [ref.worker_gradient(W, X[i], y[i]) for i in range(X.shape[0])]
        if clip is not None:
            grads = [ref.clip_gradient(g, clip) for g in grads]
        return [ref.server_step(W, grads, lr)]

    return step


def _ps_mistakes(X, y, lr, clip=None):
    def summed(W):
        g = [ref.worker_gradient(W, X[i], y[i]) for i in range(len(y))]
        g = [ref.clip_gradient(v, clip) for v in g] if clip is not None else g
        return [W - lr * np.sum(g, axis=0)]

    def per_sample(W):
        for i in range(len(y)):
            g = ref.worker_gradient(W, X[i], y[i])
            W = W - lr * (ref.clip_gradient(g, clip) if clip is not None else g) / len(y)
        return [W]

    def unclipped(W):
        return _ps_step(X, y, lr)(W)

    out = [
        ("the worker gradients were summed instead of averaged.", summed),
        (
            "the workers were applied one after another (per-sample updates); all gradients "
            "must be computed at the same W_k and then averaged.",
            per_sample,
        ),
    ]

    def clipped_at_server(W):
        g = [ref.worker_gradient(W, X[i], y[i]) for i in range(len(y))]
        return [W - lr * ref.clip_gradient(np.mean(g, axis=0), clip)]

    if clip is not None:
        out.append(("the gradients were not clipped to [-T, T] before averaging.", unclipped))
        out.append(
            (
                "the average was clipped at the server; each worker clips its own gradient "
                "before the server averages.",
                clipped_at_server,
            )
        )
    return out


def _run_settings(
    case: Case, variant: dict
) -> tuple[np.ndarray, np.ndarray, float, int, float | None]:
    """(X, y, lr, steps, clip) of a train_distributed call: its inputs, with the defaults."""
    X, y = (np.asarray(a, dtype=float) for a in case.args[:2])
    a2 = variant["a2"]
    lr = float(case.kwargs.get("lr", a2.get("lr", 0.1)))
    steps = int(case.kwargs.get("steps", a2.get("steps", 50)))
    return X, y, lr, steps, case.kwargs.get("clip")


def residual_error(W_hist: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """How far a correctly computed residual X_i W - y_i may be from its float64 value: it
    carries the rounding of its operands (|X_i| |W| + |y_i|), float32 included."""
    return RTOL * (np.abs(W_hist) @ np.abs(X).T + np.abs(y)) + ATOL


def _check_losses(W_hist, losses, X, y, what: str) -> None:
    """losses[..., k, i] must be (X_i W_(k+1) - y_i)^2 of the run's own W_hist, within the
    rounding its residual carries (2 |r| err + err^2, plus RTOL of the loss)."""

    def near(got, W):
        r = W @ X.T - y
        err = residual_error(W, X, y)
        allowed = RTOL * r**2 + 2 * np.abs(r) * err + err**2
        with np.errstate(invalid="ignore"):
            return (np.abs(got - r**2) <= allowed) | (got == r**2), r

    after = W_hist[..., 1:, :]
    ok, r = near(losses, after)
    if ok.all():
        return
    bad = ~ok
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    prefix = f"run {where[0]}, " if len(where) == 3 else ""
    cause = ""
    with np.errstate(invalid="ignore"):
        unsquared = np.abs(losses - r) <= residual_error(after, X, y)
    if near(losses, W_hist[..., :-1, :])[0].all():
        cause = "losses were recorded before each step; record them after it."
    elif unsquared.all():
        cause = "the loss is missing its square."
    raise CheckFailure(
        f"{what}: losses[{prefix}k={where[-2]}, i={where[-1]}] should be (X_i W_(k+1) - y_i)^2 "
        f"of your own W_hist = {r[where] ** 2:.8g}, got {losses[where]:.8g} "
        f"({int(bad.sum())} of {bad.size} entries differ beyond the rounding of float32)."
        + (f"\n  Likely cause: {cause}" if cause else "")
    )


def _check_ps_run(case: Case, variant: dict, label: str = "") -> np.ndarray:
    """One deterministic parameter-server run, step by step from the student's own iterates,
    and its recorded losses; returns W_hist."""
    X, y, lr, steps, clip = _run_settings(case, variant)
    what = label or f"train_distributed{'' if clip is None else f'(clip={clip:g})'}"
    W_hist, losses = case.value
    check_trajectory(
        W_hist,
        _ps_step(X, y, lr, clip),
        rtol=RTOL,
        atol=ATOL,
        what=what,
        start=np.zeros(X.shape[1]),
        mistakes=_ps_mistakes(X, y, lr, clip),
        batch=_ps_batch_step(X, y, lr, clip),
    )
    _check_losses(W_hist, losses, X, y, what)
    return W_hist


def train_plain_calls(variant: dict, seed: int) -> list[Call]:
    X, y, a2 = _data(variant)
    PX, Py = draw_system(seed)
    own = _run_spec(int(a2["steps"]), 3, 3)
    return [
        Call("a2.train.plain", "train_distributed", (X, y), returns=own),
        Call(
            "a2.train.probe",
            "train_distributed",
            (PX, Py),
            {"lr": 0.05, "steps": 30},
            returns=_run_spec(30, 3, 3),
        ),
    ]


@check(
    "a2.train_plain",
    points=4,
    problem="A2.2",
    title="parameter-server training run",
    function="train_distributed",
    calls=train_plain_calls,
)
def test_train_plain(sub: Sub) -> None:
    own, probe = sub.cases()
    _plot_plain(sub, own)
    _check_ps_run(own, sub.variant)
    _check_ps_run(probe, sub.variant, label="train_distributed on hidden data (lr=0.05, steps=30)")


def _plot_plain(sub: Sub, case: Case) -> None:
    """The student's W over the steps beside the reference run, when it has the right shape
    (anything else is the check's to report, and is never drawn)."""
    X, y = case.args
    W_ref = ref.train_distributed(X, y)[0]
    try:
        W_hist = case.value[0]
    except CheckFailure:
        return
    sub.add_plot(
        "A2.2",
        "A2.2 W during plain PS-SGD",
        {f"W[{j}]": W_hist[:, j] for j in range(W_hist.shape[1])},
        {f"W[{j}]": W_ref[:, j] for j in range(W_hist.shape[1])},
    )


# --------------------------------------------------------------------------- A2.3
def _tern_values(samples: np.ndarray, g: np.ndarray, s: float, label: str) -> np.ndarray:
    """The kept-or-not bits of TernGrad draws (n, d), or a failure naming the values that
    are neither 0 nor s sign(g_j) (and which scaler they show, when one was used)."""
    signs = np.sign(g)
    tol = 1e-6 * max(s, 1e-12)
    kept = (np.abs(samples - s * signs) <= tol) & (signs != 0)
    zero = np.abs(samples) <= tol
    if (kept | zero).all():
        return kept
    draw, j = (int(i) for i in np.argwhere(~(kept | zero))[0])
    lines = [
        f"{label}: every entry must be 0 or s * sign(g_j) with s = {s:g}; draw {draw} has "
        f"entry [{j}] = {samples[draw, j]:.6g} (g_j = {g[j]:g})."
    ]
    nonzero = np.abs(samples[np.abs(samples) > tol])
    other = float(nonzero.max()) if nonzero.size else 0.0
    if (
        nonzero.size
        and np.allclose(nonzero, other, rtol=1e-6)
        and np.all((np.abs(samples) <= tol) | (np.abs(samples - other * signs) <= 1e-6 * other))
    ):
        lines.append(f"  Every nonzero entry is {other:g} * sign(g_j): the scaler was {other:g}.")
        if np.isclose(other, np.abs(g).max()) and not np.isclose(s, np.abs(g).max()):
            lines.append(
                f"  Likely cause: the given s was ignored and max |g| = {other:g} used instead."
            )
    raise CheckFailure("\n".join(lines))


def _bit_tests(bits: np.ndarray, p: np.ndarray) -> list[tuple[str, int, int, float, str]]:
    """The binomial counts a correct TernGrad gives, as (kind, count, trials, probability,
    what): each entry's keep count; both or neither kept in disjoint pairs of consecutive
    draws (independence across draws, two offsets); both or neither kept for every pair of
    random entries of one draw (independence across entries)."""
    n, d = bits.shape
    random = [j for j in range(d) if 0 < p[j] < 1]
    tests = [
        ("freq", int(bits[:, j].sum()), n, float(p[j]), f"entry [{j}] was kept") for j in range(d)
    ]
    for j in random:
        for offset in (0, 1):
            m = (n - offset) // 2
            a, b = bits[offset : offset + 2 * m : 2, j], bits[offset + 1 : offset + 2 * m : 2, j]
            pairs = f"of the pairs of consecutive draws ({offset} and {offset + 1}, ...)"
            for kept, count, prob in ((True, a & b, p[j] ** 2), (False, ~a & ~b, (1 - p[j]) ** 2)):
                what = f"entry [{j}] was {'kept' if kept else 'dropped'} in both {pairs}"
                tests.append(("draws", int(count.sum()), m, float(prob), what))
    for j, k in itertools.combinations(random, 2):
        a, b = bits[:, j], bits[:, k]
        for kept, count, prob in (
            (True, a & b, p[j] * p[k]),
            (False, ~a & ~b, (1 - p[j]) * (1 - p[k])),
        ):
            what = f"entries [{j}] and [{k}] were both {'kept' if kept else 'dropped'} in a draw"
            tests.append(("entries", int(count.sum()), n, float(prob), what))
    return tests


def _tern_law_failures(samples: np.ndarray, g: np.ndarray, s: float, label: str, delta: float):
    """Every way the draws break TernGrad's law, each test at its share of delta."""
    bits = _tern_values(samples, g, s, label)
    p = np.minimum(np.abs(g) / s, 1.0) if s > 0 else np.zeros_like(g)
    if np.all(bits == (p >= 0.5)) and np.any((p > 0) & (p < 1)):
        return [
            f"{label}: every draw is the same vector, {fmt(samples[0])}: the ternary entries "
            "are not random.\n  Likely cause: rounding |g_j|/s to 0 or 1 (b_j = 1 when "
            "|g_j|/s >= 0.5) instead of drawing b_j ~ Bernoulli(|g_j|/s)."
        ]
    tests = _bit_tests(bits, p)
    share = delta / len(tests)
    bad = [t for t in tests if binomial_rejects(t[1], t[2], t[3], share)]
    if not bad:
        return []
    n = samples.shape[0]
    lines = []
    freq = [t for t in bad if t[0] == "freq"]
    for _, count, trials, prob, what in (freq or bad)[:3]:
        lo, hi = binomial_interval(trials, prob, share)
        lines.append(
            f"  {what}: {count} times in {trials}; with probability {prob:.4g} each time, a "
            f"correct implementation gives {lo} to {hi} (binomial Chernoff bound; the whole "
            f"check fails a correct one with probability < {FALSE_FAIL:g})."
        )
    if freq:
        counts = bits.sum(axis=0)
        inverted = ~binomial_rejects(counts, n, 1 - p, share)[g != 0]
        lines.insert(
            0,
            f"{label}: not unbiased (E[tern(g)] = g needs each entry kept with "
            "probability |g_j|/s).",
        )
        if inverted.all():
            lines.append(
                "  Likely cause: the Bernoulli is inverted (every entry is kept with "
                "probability 1 - |g_j|/s, as the counts show)."
            )
    else:
        lines.insert(0, f"{label}: the draws are not independent Bernoulli variables.")
    return ["\n".join(lines)]


def _same_state_problems(main: list, same: list, other: list, label: str) -> list[str]:
    """The given generator must decide the draws: the same state gives the same draws,
    another state other draws."""

    def equal(a: list, b: list) -> bool:
        return all(
            all(np.array_equal(x, z) for x, z in zip(u, v, strict=True))
            if isinstance(u, tuple)
            else np.array_equal(u, v)
            for u, v in zip(a, b, strict=True)
        )

    problems = []
    if not equal(main[: len(same)], same):
        problems.append(
            f"{label}: called again with the same generator state (rng seeded the same, and "
            "numpy's, Python's and torch's global generators too), it gave other results: the "
            "draws depend on something else (a fresh unseeded generator, or a counter or "
            "state kept between calls). Draw the randomness from rng."
        )
    if equal(main[: len(other)], other):
        problems.append(
            f"{label}: with another generator state it gave exactly the same {len(other)} "
            "results: the draws do not depend on the generator (a correct implementation "
            "repeats them by chance with probability below 1e-20)."
        )
    return problems


def terngrad_calls(variant: dict) -> list[Call]:
    many = {"repeat": TERN_DRAWS, "timeout": 30}
    few = {"repeat": STATE_DRAWS, "timeout": 30}
    (r1, s1), (r2, s2), (r3, s3) = TERN_SEEDS["own_s"], TERN_SEEDS["given_s"], TERN_SEEDS["other"]
    d, d4 = Array((TERN_G.size,)), Array((4,))
    g = (TERN_G,)
    return [
        Call("a2.tern.own_s", "terngrad", g, {"rng": Rng(r1)}, seed=s1, returns=d, **many),
        Call(
            "a2.tern.given_s",
            "terngrad",
            (TERN_G[:4], 5.0),
            {"rng": Rng(r2)},
            seed=s2,
            returns=d4,
            **many,
        ),
        Call("a2.tern.same", "terngrad", g, {"rng": Rng(r1)}, seed=s1, returns=d, **few),
        Call("a2.tern.other", "terngrad", g, {"rng": Rng(r3)}, seed=s3, returns=d, **few),
        Call(
            "a2.tern.wide",
            "terngrad",
            (TERN_WIDE_G,),
            {"rng": Rng(TERN_SEEDS["wide"][0])},
            seed=TERN_SEEDS["wide"][1],
            returns=Array((TERN_WIDE_G.size,)),
            repeat=WIDE_DRAWS,
            timeout=30,
        ),
    ]


def _repeated_draw_failures(samples: np.ndarray, g: np.ndarray, label: str, delta: float):
    """The birthday test: no two of the draws may be identical. Two independent draws
    agree on every random entry with probability c = prod (p_j^2 + (1 - p_j)^2), so some
    pair of n draws does with probability at most n (n - 1) / 2 c, which must be below
    delta (checked here, for the inputs used). Draws that are reused (a later call
    returning an earlier call's vector, at any distance) fail it."""
    s = float(np.abs(g).max())
    bits = _tern_values(samples, g, s, label)
    p = np.minimum(np.abs(g) / s, 1.0)
    random = (p > 0) & (p < 1)
    n = samples.shape[0]
    bound = n * (n - 1) / 2 * coincidence_probability(p[random])
    if bound >= delta:  # the inputs are the check's own: a broken check, not a submission
        raise RuntimeError(f"the birthday test cannot reach {delta:g} on these inputs")
    count, first = identical_pairs(bits[:, random])
    if first is None:
        return []
    i, j = first
    return [
        f"{label}: over {n} calls with one generator, draws {i} and {j} are identical, and "
        f"{count} of the {n * (n - 1) // 2} pairs of draws are: the draws are not independent "
        f"(a later call repeats an earlier one). With {int(random.sum())} entries kept with "
        "probabilities in (0, 1), independent draws have some identical pair with probability "
        f"< {max(bound, 1e-300):.0e} (the whole check fails a correct one with "
        f"probability < {FALSE_FAIL:g}).\n  Likely cause: {_repeat_cause(bits[:, random], p[random])}"
    ]


def _pooled_keep_failures(samples: np.ndarray, g: np.ndarray, label: str, delta: float):
    """The keeps of all random entries and draws together, range by range of p, against
    their summed probabilities (stats.pooled_bias): a bias shared by the entries."""
    s = float(np.abs(g).max())
    bits = _tern_values(samples, g, s, label)
    found = pooled_bias(bits, np.minimum(np.abs(g) / s, 1.0), delta)
    if found is None:
        return []
    v, count, expected = found["v"], found["count"], found["expected"]
    hi = found["hi"]
    return [
        f"{label}: over {samples.shape[0]} draws, the entries whose keep-probability |g_j|/s "
        f"lies in [{found['lo']:g}, {hi:g}{']' if hi == 1 else ')'} were kept {count:.0f} times "
        f"in {v} (frequency {count / v:.4f}); a correct TernGrad keeps {expected:.0f} +- "
        f"{found['t']:.0f} of them (average probability {expected / v:.4f}; Hoeffding bound, "
        f"the whole check fails a correct one with probability < {FALSE_FAIL:g}): the entries "
        "are not kept with probability |g_j|/s, so E[tern(g)] != g."
    ]


def _repeat_cause(bits: np.ndarray, p: np.ndarray) -> str:
    """What repeated draws show: all the same vector (no randomness), every draw keeping
    exactly the entries of largest p (one uniform shared by the entries), or else reuse."""
    if np.all(bits == bits[:1]):
        return "every draw is the same vector: the entries are not random."
    smallest_kept = np.where(bits, p, np.inf).min(axis=1)
    largest_dropped = np.where(bits, -np.inf, p).max(axis=1)
    if np.all(smallest_kept >= largest_dropped):
        return (
            "one random number shared by all entries (every draw kept exactly the entries of "
            "largest |g_j|); draw one per entry."
        )
    return (
        "a draw kept and returned again, or random numbers reused between calls; draw fresh "
        "ones from rng at every call."
    )


@check(
    "a2.terngrad",
    points=3,
    problem="A2.3",
    title="TernGrad: values, scaler, unbiased and independent draws from rng",
    function="terngrad",
    calls=terngrad_calls,
)
def test_terngrad(sub: Sub) -> None:
    def law(case: Case) -> None:
        g = case.args[0]
        s = case.args[1] if len(case.args) > 1 else None
        label = f"terngrad(g={fmt(g)}" + (f", s={s:g})" if s else ") with its own s = max|g|")
        samples = np.stack(case.value)
        if case.id == "a2.tern.wide":
            found = _repeated_draw_failures(samples, g, label, FALSE_FAIL / 6)
            found = found or _pooled_keep_failures(samples, g, label, FALSE_FAIL / 6)
        else:
            found = _tern_law_failures(
                samples, g, s or float(np.abs(g).max()), label, FALSE_FAIL / 3
            )
        if found:
            raise CheckFailure("\n".join(found))

    def state(_: object) -> None:
        label = f"terngrad(g={fmt(TERN_G)}, rng=...)"
        main = sub.case("a2.tern.own_s").value
        found = _same_state_problems(
            main, sub.case("a2.tern.same").value, sub.case("a2.tern.other").value, label
        )
        if found:
            raise CheckFailure("\n".join(found))

    # Drawing from the generator earns nothing by itself (wrong rules can do it too): a
    # submission whose draws ignore it fails the whole check, whatever its laws.
    try:
        state(None)
    except CheckFailure as failure:
        laws = []
        for case in (sub.case(f"a2.tern.{k}") for k in ("own_s", "given_s", "wide")):
            try:
                law(case)
            except CheckFailure as other:
                laws.append(str(other))
        raise CheckFailure("\n".join(distinct([str(failure), *laws]))) from None
    cases = [sub.case(f"a2.tern.{k}") for k in ("own_s", "given_s", "wide")]
    credit_parts(cases, law, separator="\n")


@functools.cache
def _combos(n: int) -> np.ndarray:
    """Every 0/1 choice of n workers, one per row: shape (2^n, n)."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def _tern_steps_ok(W_hist, X, y, lr, scaler, clip, law: str = "correct") -> np.ndarray:
    """Whether each step W[k] -> W[k+1] is an average of per-worker ternary vectors at W[k].

    W_hist: (..., K+1, d); returns (..., K) booleans. Entry j of worker i is 0 or
    s sign(g_ij); when its keep-probability min(|g_ij|/s, 1) is 1 (the largest entry under
    s = max |g|, or an entry clipped with room to spare under s = T) it is always kept:
    Bernoulli(1) never draws 0, so this holds for every correct implementation. An entry
    whose gradient is within F32_MARGIN of the clipping threshold may be kept or not: a
    float32 run may see it a hair under T, with probability a hair under 1.

    `law` names a mistake instead, to test whether it explains the steps: "global_scaler"
    (one s = max |g| over all workers), "scaler_ignored" (each worker's own max |g| instead of
    the given s), "unclipped" (clip ignored), "summed" (no averaging), "inverted" (kept with
    probability 1 - p, so an entry of probability 1 is never kept).
    """
    n = X.shape[0]
    W, W_next = W_hist[..., :-1, :], W_hist[..., 1:, :]
    use_clip = None if law == "unclipped" else clip
    raw = _worker_grads(W, X, y)  # (..., K, n, d)
    G = raw if use_clip is None else ref.clip_gradient(raw.ravel(), use_clip).reshape(raw.shape)
    if scaler is not None and law != "scaler_ignored":
        s = np.full(G.shape[:-1], float(scaler))
    elif law == "global_scaler":
        s = np.broadcast_to(np.abs(G).max(axis=(-2, -1))[..., None], G.shape[:-1])
    else:
        s = np.abs(G).max(axis=-1)
    full = s[..., None] * np.sign(G)
    sure = (np.abs(G) >= (1 - 1e-12) * s[..., None]) & (s[..., None] > 0)
    if use_clip is not None:  # near the clipping threshold, float32 may fall either side
        sure &= ~(np.abs(np.abs(raw) - use_clip) <= F32_MARGIN * use_clip)
    kept = np.where(sure, full, 0.0).sum(axis=-2)  # (..., K, d)
    maybe = np.where(sure, 0.0, full)  # (..., K, n, d)
    if law == "inverted":  # kept with probability 1 - p: the sure entries are never kept
        kept = np.zeros_like(kept)
    totals = kept[..., None, :] + np.einsum("cn,...nd->...cd", _combos(n), maybe)
    scale = lr if law == "summed" else lr / n
    steps = W[..., None, :] - scale * totals  # (..., K, 2^n, d)
    # rounding grows with the operands (|W| and the step), not the result, which is small
    # when an entry crosses zero
    tol = ATOL + RTOL * (np.abs(steps) + np.abs(W)[..., None, :] + scale * np.abs(totals))
    per_coord = np.abs(steps - W_next[..., None, :]) <= tol  # (..., K, 2^n, d)
    return np.all(per_coord.any(axis=-2), axis=-1)


# ranges of keep-probability the calibration test sums over: all of them (a bias of one
# sign, as p^2 or sqrt(p) give), each half (a bias towards 1/2) and each quarter
KEEP_RANGES = (
    (0.0, 1.0),
    (0.0, 0.5),
    (0.5, 1.0),
    (0.0, 0.25),
    (0.25, 0.5),
    (0.5, 0.75),
    (0.75, 1.0),
)


def _tern_keep_units(W_hist, X, y, lr, scaler, clip) -> dict[str, np.ndarray]:
    """The keep decisions a run's steps reveal, as units of independent Bernoulli draws.

    From W[k] the check recomputes every worker's (clipped) gradient, its scaler and each
    entry's keep-probability p = |g_ij| / s; W[k+1] tells which combination of ternary
    entries was averaged. An entry is decoded when no two combinations that differ in its
    bit move W alike (a property of W[k] alone, so choosing it does not look at the draw):
    a unit of one draw. When the workers whose entry is random all send the same value
    s sign(g_ij) (the shared s = T of A2.5), only their number of keeps is revealed: one
    unit of that many draws. Anything else (mixed signs under one s, an entry within
    float32 rounding of the clipping threshold) is left out. Returns, per unit, the keeps
    `count`, the sum of probabilities `mean`, the number of draws `size` and, for the
    ordering of the martingale, its run and step. Every step must already be an average of
    ternary vectors (_tern_steps_ok).
    """
    n = X.shape[0]
    W, W_next = W_hist[..., :-1, :], W_hist[..., 1:, :]
    raw = _worker_grads(W, X, y)  # (R, K, n, d)
    G = raw if clip is None else ref.clip_gradient(raw.ravel(), clip).reshape(raw.shape)
    s = np.full(G.shape[:-1], float(scaler)) if scaler is not None else np.abs(G).max(axis=-1)
    s = s[..., None]
    full = s * np.sign(G)
    p = np.where(s > 0, np.minimum(np.abs(G) / np.where(s > 0, s, 1.0), 1.0), 0.0)
    sure = (np.abs(G) >= (1 - 1e-12) * s) & (s > 0)
    edge = np.zeros(G.shape, dtype=bool)
    if clip is not None:
        edge = np.abs(np.abs(raw) - clip) <= F32_MARGIN * clip
        sure &= ~edge
    maybe = np.where(sure, 0.0, full)  # the values an entry of unknown bit may add
    random = ~sure & ~edge & (p > 0) & (p < 1)
    combos = _combos(n)  # (2^n, n)
    totals = np.where(sure, full, 0.0).sum(axis=-2)[..., None, :] + np.einsum(
        "cn,...nd->...cd", combos, maybe
    )
    scale = lr / n
    steps = W[..., None, :] - scale * totals
    tol = ATOL + RTOL * (np.abs(steps) + np.abs(W)[..., None, :] + scale * np.abs(totals))
    match = np.abs(steps - W_next[..., None, :]) <= tol  # (R, K, 2^n, d)
    seen = combos[np.argmax(match, axis=-2)]  # (R, K, d, n): the first matching combination
    # two combinations differing by e in {-1, 0, 1}^n move W by scale |e . maybe| apart
    diffs = np.array(list(itertools.product([-1.0, 0.0, 1.0], repeat=n)))
    gap = np.abs(np.einsum("en,...nd->...ed", diffs, maybe)) * scale  # (R, K, 3^n, d)
    margin = 4 * tol.max(axis=-2)[..., None, :]
    apart = gap > margin  # (R, K, 3^n, d)
    alone = np.stack(
        [np.all(apart | (diffs[:, i] == 0)[:, None], axis=-2) for i in range(n)], axis=-2
    )  # (R, K, n, d): bit i decoded
    bits = np.moveaxis(seen, -1, -2)  # (R, K, n, d)
    single = np.all(alone | ~random, axis=-2)  # every random bit of the entry decoded
    top = np.max(np.where(random, maybe, -np.inf), axis=-2)[..., None, :]
    same = np.all(~random | np.isclose(maybe, top, rtol=1e-9, atol=0), axis=-2)
    quiet = np.all(random | (maybe == 0), axis=-2)  # no other entry of unknown bit
    group = ~single & same & quiet & (random.sum(axis=-2) > 1)  # (R, K, d)
    one = random & single[..., None, :]
    many = random & group[..., None, :]
    events = _revealed_events(random, maybe, p, bits, margin[..., 0, :] / scale, single | group)
    return {
        "count": np.concatenate([bits[one], (bits * many).sum(axis=-2)[group]]),
        "mean": np.concatenate([p[one], (p * many).sum(axis=-2)[group]]),
        "size": np.concatenate([np.ones(int(one.sum())), many.sum(axis=-2)[group]]),
        **events,
    }


def _revealed_events(random, maybe, p, bits, close, done) -> dict[str, np.ndarray]:
    """For the entries of a step whose workers' bits are not revealed one by one or as a
    count (mixed signs under one s): the sum they add is. Each distinct value that sum can
    take is an event of known probability (the sum over the bit patterns giving it of
    prod p^b (1 - p)^(1 - b)); returns, per event, that probability `pi`, whether it
    happened `hit`, and its `cell` (one entry of one step of one run). Patterns whose sums
    lie within `close` (the decoding tolerance) count as one value; cells with an entry of
    unknown law (within rounding of the clipping threshold) are left out."""
    todo = ~done & random.any(axis=-2) & np.all(random | (maybe == 0), axis=-2)
    pis, hits, cells = [], [], []
    for cell, (r, k, j) in enumerate(np.argwhere(todo)):
        who = np.flatnonzero(random[r, k, :, j])
        m, q, b = maybe[r, k, who, j], p[r, k, who, j], bits[r, k, who, j]
        pats = _combos(who.size)
        sums = pats @ m
        prob = np.prod(np.where(pats > 0, q, 1 - q), axis=1)
        seen = float(b @ m)
        order = np.argsort(sums)
        start = 0
        for stop in range(1, len(order) + 1):
            if stop < len(order) and sums[order[stop]] - sums[order[stop - 1]] <= close[r, k, j]:
                continue
            group = order[start:stop]
            pis.append(float(prob[group].sum()))
            hits.append(bool(np.any(np.abs(sums[group] - seen) <= close[r, k, j])))
            cells.append(cell)
            start = stop
    return {"pi": np.array(pis), "hit": np.array(hits, dtype=float), "cell": np.array(cells)}


def _martingale_radius(v: float, delta: float, top: float) -> float:
    """A bound t such that a sum S of centred Bernoulli draws (each independent of all
    before it given the past, chosen and binned by the past alone) with v draws in it has
    P(|S| >= t) <= delta, for v up to `top`. For each lambda, exp(lambda S - lambda^2 v / 8)
    is a supermartingale (Hoeffding's lemma), so Ville's inequality bounds each side at one
    lambda; a union bound over a grid of lambdas (one per power of 2 up to top) lets the
    realized v pick the best one."""
    grid = int(math.ceil(math.log2(max(top, 2.0)))) + 1
    log_term = math.log(2 * grid / delta)
    lams = [math.sqrt(8 * log_term / 2.0**g) for g in range(grid)]
    return min(log_term / lam + lam * v / 8 for lam in lams)


def _inside(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Whether each probability lies in [lo, hi) (or [lo, 1] for the ranges that end at 1)."""
    return (values >= lo) & ((values < hi) | (hi == 1.0))


def _keep_calibration_problems(units: dict, top: float, label: str, delta: float) -> list[str]:
    """The keep frequencies inside the runs against their probabilities, range by range of
    p (KEEP_RANGES): in each, the keeps summed over runs, steps, workers and entries must lie
    within _martingale_radius of the summed probabilities; likewise the revealed sums of
    mixed-sign entries, event by event (see _revealed_events). One test per range and kind,
    delta shared between them: the false-fail probability is <= delta."""
    share = delta / (2 * len(KEEP_RANGES))
    mean_p = units["mean"] / np.maximum(units["size"], 1)
    for lo, hi in KEEP_RANGES:
        inside = _inside(mean_p, lo, hi)
        v = float(units["size"][inside].sum())
        kept, expected = float(units["count"][inside].sum()), float(units["mean"][inside].sum())
        t = _martingale_radius(v, share, top)
        if v and abs(kept - expected) >= t:
            return [
                f"{label}: inside the runs, the entries whose keep-probability |g_ij| / s was "
                f"in [{lo:g}, {hi:g}{']' if hi == 1 else ')'} were kept {kept:.0f} times in "
                f"{v:.0f} draws (frequency {kept / v:.3f}); with those probabilities a correct "
                f"TernGrad keeps {expected:.1f} +- {t:.1f} of them (average {expected / v:.3f}; "
                "Hoeffding bound for the martingale over the runs' steps, false-fail "
                f"probability of the whole test < {delta:.1g}). The ternary gradients inside "
                "training are not kept with probability |g_ij| / s (the check recomputes each "
                "worker's gradient at every step from your W_hist and reads what each worker "
                "sent from the next step)."
            ]
    for lo, hi in KEEP_RANGES:
        inside = _inside(units["pi"], lo, hi)
        v = float(np.unique(units["cell"][inside]).size)
        happened, expected = float(units["hit"][inside].sum()), float(units["pi"][inside].sum())
        t = _martingale_radius(v, share, top)
        if v and abs(happened - expected) >= t:
            return [
                f"{label}: inside the runs, where workers of both signs shared one entry, the "
                f"sums they sent that had probability in [{lo:g}, {hi:g}{']' if hi == 1 else ')'} "
                f"came out {happened:.0f} times in {v:.0f} steps; with the keep-probabilities "
                f"|g_ij| / s a correct TernGrad gives {expected:.1f} +- {t:.1f} (Hoeffding "
                "bound for the martingale over the runs' steps, false-fail probability of the "
                f"whole test < {delta:.1g}). The ternary gradients inside training are not "
                "kept with probability |g_ij| / s."
            ]
    return []


TERN_MISTAKES = (
    (
        "global_scaler",
        "one scaler for all workers (the largest |g| over every worker); each worker "
        "ternarizes its own gradient with its own s = max |g_i|.",
    ),
    (
        "scaler_ignored",
        "the given scaler was ignored: each worker used its own max |g| instead of s = T.",
    ),
    ("unclipped", "the gradients were not clipped into [-T, T] before TernGrad."),
    ("summed", "the ternary gradients were summed instead of averaged."),
    (
        "inverted",
        "the Bernoulli is inverted: entries whose keep-probability is 1 were dropped "
        "(kept with probability 1 - |g_j|/s).",
    ),
)


def _tern_step_failure(histories, X, y, lr, scaler, clip, ok, label) -> str:
    """The first step that is no average of ternary gradients, and the catalogued mistake
    whose law explains every such step (from the first bad one on), if one does."""
    r, k = (int(i) for i in np.argwhere(~ok)[0])
    lines = [
        f"{label}: run {r}, step {k + 1}: W moved from {fmt(histories[r][k])} to "
        f"{fmt(histories[r][k + 1])}, which is not an average of ternary gradients: each "
        "worker ternarizes its own (clipped) gradient with s = "
        f"{'max |g_i| of that worker' if scaler is None else f'{scaler:g}'}, keeping every "
        "entry whose probability |g_j|/s is 1; the server averages the ternary vectors."
    ]
    for law, cause in TERN_MISTAKES:
        if (law == "unclipped" and clip is None) or (law == "scaler_ignored" and scaler is None):
            continue
        with np.errstate(all="ignore"):
            wrong = _tern_steps_ok(histories, X, y, lr, scaler, clip, law)
        if wrong[r, k:].all() and wrong[~ok].all():
            lines.append(f"  Likely cause: {cause}")
            break
    else:
        lines.append("  No catalogued mistake explains these steps.")
    return "\n".join(lines)


def _check_tern_runs(sub: Sub, prefix: str, label: str) -> list[str]:
    """TERN_RUNS seeded TernGrad runs: every step an average of per-worker ternary vectors,
    every run's losses those of its own weights, the runs decided by the generator, the keep
    frequencies inside the runs those of |g_ij| / s (FALSE_FAIL / 2), and their final losses
    (recomputed from the weights) distributed as the reference's (KS, FALSE_FAIL / 2)."""
    case = sub.case(prefix)
    X, y, lr, steps, clip = _run_settings(case, sub.variant)
    scaler = case.kwargs.get("scaler")
    runs = case.value
    histories = np.stack([run[0] for run in runs])
    losses = np.stack([run[1] for run in runs])
    if not np.all(np.abs(histories[:, 0]) <= ATOL):
        raise CheckFailure(f"{label}: W_hist[0] must be the start W = 0.")
    with np.errstate(all="ignore"):  # inf or nan in a run fails below, with its run and step
        ok = _tern_steps_ok(histories, X, y, lr, scaler, clip)  # every step's law
    if not ok.all():
        raise CheckFailure(_tern_step_failure(histories, X, y, lr, scaler, clip, ok, label))
    _check_losses(histories, losses, X, y, label)
    problems = _same_state_problems(
        runs, sub.case(f"{prefix}.same").value, sub.case(f"{prefix}.other").value, label
    )
    if problems:
        return problems
    with np.errstate(all="ignore"):
        units = _tern_keep_units(histories, X, y, lr, scaler, clip)
    top = histories[:, 1:].size * X.shape[0]  # draws at most: runs x steps x workers x d
    problems = _keep_calibration_problems(units, top, label, FALSE_FAIL / 2)
    if problems:
        return problems
    finals = np.log10(np.sum((histories[:, -1] @ X.T - y) ** 2, axis=1) + 1e-300)
    if np.ptp(finals) == 0:
        return [
            f"{label}: all {TERN_RUNS} runs, each with its own random stream, ended with exactly "
            "the same loss: the ternary gradients are not random."
        ]
    refs = _reference_finals(X, y, lr, steps, scaler, clip)
    dist = ks_statistic(finals, refs)
    crit = ks_critical(TERN_RUNS, REF_RUNS, FALSE_FAIL / 2)
    if dist > crit:
        return [
            f"{label}: over {TERN_RUNS} seeds, the distribution of the final loss differs from "
            "the one correct TernGrad runs give (Kolmogorov-Smirnov test, false-fail "
            f"probability < {FALSE_FAIL / 2:g}), although every step is an average of ternary "
            "gradients: the entries are kept with other probabilities than |g_j| / s."
        ]
    return []


def _reference_finals(X, y, lr, steps, scaler, clip) -> np.ndarray:
    """log10 of the final total loss over REF_RUNS seeded reference runs (cached)."""

    def compute() -> np.ndarray:
        rng = np.random.default_rng(20_250_101)
        out = []
        for _ in range(REF_RUNS):
            _, losses = ref.train_distributed(
                X, y, lr=lr, steps=steps, clip=clip, ternary=True, scaler=scaler, rng=rng
            )
            out.append(np.log10(losses[-1].sum() + 1e-300))
        return np.array(out)

    key = ("a2.tern", X.tobytes(), y.tobytes(), lr, steps, scaler, clip, REF_RUNS)
    return cached_array(key, compute)


def _tern_run_calls(prefix: str, X, y, kwargs: dict, seeds: tuple[int, int, int]) -> list[Call]:
    """The graded runs, the same-state runs and the other-state runs of one configuration."""
    spec = _run_spec(TERN_STEPS, X.shape[0], X.shape[1])
    main, other_rng, other_global = seeds
    out = []
    for suffix, rng, seed, repeat in (
        ("", main, main + 600, TERN_RUNS),
        (".same", main, main + 600, STATE_RUNS),
        (".other", other_rng, other_global, STATE_RUNS),
    ):
        kw = {**kwargs, "steps": TERN_STEPS, "rng": Rng(rng)}
        out.append(
            Call(
                f"{prefix}{suffix}",
                "train_distributed",
                (X, y),
                kw,
                repeat=repeat,
                timeout=60,
                seed=seed,
                returns=spec,
            )
        )
    return out


def train_terngrad_calls(variant: dict) -> list[Call]:
    X, y, _ = _data(variant)
    return _tern_run_calls("a2.train.tern", X, y, {"ternary": True}, (13, 23, 623))


@check(
    "a2.train_terngrad",
    points=3,
    problem="A2.3",
    title="training with TernGrad (per-worker scaler, distribution over seeds)",
    function="train_distributed",
    calls=train_terngrad_calls,
)
def test_train_terngrad(sub: Sub) -> None:
    problems = _check_tern_runs(sub, "a2.train.tern", "train_distributed(ternary=True)")
    if problems:
        raise CheckFailure("\n".join(problems))


# --------------------------------------------------------------------------- A2.4
def draw_clip_case(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A hidden gradient and threshold: entries above T, below -T and inside (|g_j| != T),
    so that clipping by norm or on one side only gives other vectors."""
    T = float(rng.choice([1.5, 2.0, 3.0, 5.0]))
    high = T + rng.integers(1, 12, size=2) / 2
    inside = (rng.integers(-7, 8, size=3) / 8) * T
    inside[inside == 0] = T / 4
    g = np.concatenate([high[:1], -high[1:], inside])
    return rng.permutation(g), T


def clip_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    cases = [draw_clip_case(rng) for _ in range(2)]
    return [
        Call(f"a2.clip.{i + 1}", "clip_gradient", (g, T), returns=Array((g.size,)))
        for i, (g, T) in enumerate(cases)
    ]


@check(
    "a2.clip_gradient",
    points=1,
    problem="A2.4",
    title="elementwise clipping into [-T, T]",
    function="clip_gradient",
    calls=clip_calls,
)
def test_clip(sub: Sub) -> None:
    for case in sub.cases():
        g, T = case.args
        mistakes = [
            Mistake(
                "you rescaled the whole vector to norm T; clipping is elementwise.",
                lambda g=g, T=T: g * min(1.0, T / np.linalg.norm(g)),
            ),
            Mistake(
                "only large positive entries were clipped (min(g, T)); clip into [-T, T].",
                lambda g=g, T=T: np.minimum(g, T),
            ),
            Mistake(
                "only large negative entries were clipped (max(g, -T)); clip into [-T, T].",
                lambda g=g, T=T: np.maximum(g, -T),
            ),
        ]
        assert_close(
            case.value,
            ref.clip_gradient(g, T),
            rtol=1e-9,
            atol=1e-12,
            what=f"clip_gradient({fmt(g)}, T={T:g})",
            mistakes=mistakes,
        )


def train_clip_calls(variant: dict) -> list[Call]:
    X, y, a2 = _data(variant)
    spec = _run_spec(int(a2["steps"]), 3, 3)
    return [
        Call(f"a2.train.clip{T:g}", "train_distributed", (X, y), {"clip": float(T)}, returns=spec)
        for T in a2["clip_T"]
    ]


@check(
    "a2.train_clip",
    points=4,
    problem="A2.4",
    title="training with clipped gradients, each T",
    function="train_distributed",
    calls=train_clip_calls,
)
def test_train_clip(sub: Sub) -> None:
    credit_parts(sub.cases(), lambda case: _check_ps_run(case, sub.variant))


# --------------------------------------------------------------------------- A2.5
def train_tern_clip_calls(variant: dict) -> list[Call]:
    X, y, a2 = _data(variant)
    T = float(a2["tern_clip_T"])
    kwargs = {"clip": T, "ternary": True, "scaler": T}
    return _tern_run_calls("a2.train.tern_clip", X, y, kwargs, (14, 24, 624))


@check(
    "a2.train_tern_clip",
    points=3,
    problem="A2.5",
    title="clipping then TernGrad with s = T",
    function="train_distributed",
    calls=train_tern_clip_calls,
)
def test_train_tern_clip(sub: Sub) -> None:
    case = sub.case("a2.train.tern_clip")
    T = float(case.kwargs["clip"])
    label = f"train_distributed(clip={T:g}, ternary=True, scaler={T:g})"
    result = case.result
    X, y, _ = _data(sub.variant)
    unclipped_p = np.abs(_worker_grads(np.zeros(X.shape[1]), X, y)).max() / T  # at W_0 = 0
    if (
        result.status == "error"
        and "ValueError" in result.error
        and _probability_error(result.error)
        and unclipped_p > 1
    ):
        raise CheckFailure(
            f"{label} raised {result.error}\n"
            "  Likely cause: with s = T the keep-probability |g_j|/s exceeds 1 unless the "
            "gradient is clipped into [-T, T] first."
        )
    problems = _check_tern_runs(sub, "a2.train.tern_clip", label)
    if problems:
        raise CheckFailure("\n".join(problems))


def _probability_error(error: str) -> bool:
    """Whether numpy's error says a probability exceeds 1 (what an unclipped gradient with
    s = T gives rng.binomial); the check also confirms that some |g_j| / T at W_0 is above 1."""
    return any(w in error for w in ("p > 1", "probabilit", "0 <= p <= 1"))
