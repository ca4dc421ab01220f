"""Hidden checks for A2: parameter-server SGD, TernGrad and clipping.

Each function is called on the student's own numbers and on inputs the grader chose, and
compared with effdl on the same inputs. Trajectories are checked step by step from the
student's own iterates; TernGrad by its laws, never by one random stream.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from autograder.checking.compare import Mistake, as_array, assert_close, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.refcache import cached_array
from autograder.checking.spec import Call, Rng, check
from autograder.checking.stats import hoeffding_radius, ks_critical, ks_statistic
from autograder.checking.sub import Case, Sub, tuple_of
from autograder.checking.trajectory import check_trajectory
from autograder.checking.verdict import CheckFailure
from effdl import distributed as ref

RTOL, ATOL = 1e-5, 1e-7  # float32 arithmetic on these sizes stays far inside this
TERN_DRAWS = 2000
TERN_RUNS = 100  # student runs per TernGrad configuration
TERN_STEPS = 12  # enough for the curves to spread (see the KS check); keeps grading fast
REF_RUNS = 300  # reference runs (cached per variant)
FALSE_FAIL = 1e-7  # per statistical check, below the 1e-6 the design asks for

# Grader-chosen inputs that no notebook shows, so that no answer can be copied in.
PROBE_X = np.array([[2.0, -1.0, 1.0], [1.0, 3.0, -2.0], [-1.0, 2.0, 4.0]])
PROBE_Y = np.array([3.0, -4.0, 10.0])
TERN_G = np.array([-3.0, 1.0, 0.5, 4.0, 0.0])  # keep-probabilities 0.75, 0.25, 0.125, 1, 0


def _data(variant: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """The variant's A2 data: X (3, 3), y (3,), and its settings."""
    a2 = variant["a2"]
    return np.array(a2["X"], dtype=float), np.array(a2["y"], dtype=float), a2


W_PROBE = np.array([0.5, -1.0, 2.0])  # a point off the path of training, for one-step calls


# --------------------------------------------------------------------------- A2.1
def closed_form_calls(variant: dict) -> list[Call]:
    X, y, _ = _data(variant)
    return [
        Call("a2.closed_form.own", "closed_form", (X, y)),
        Call("a2.closed_form.probe", "closed_form", (PROBE_X, PROBE_Y)),
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
                "you returned the least-squares solution of the wrong system.",
                lambda A=A, b=b: np.linalg.lstsq(A.T @ A, b, rcond=None)[0],
            ),
        ]
        assert_close(
            case.value,
            ref.closed_form(A, b),
            rtol=1e-6,
            atol=1e-8,
            what=f"closed_form on X={fmt(A)}",
            mistakes=mistakes,
        )


# --------------------------------------------------------------------------- A2.2
def worker_gradient_calls(variant: dict) -> list[Call]:
    X, y, _ = _data(variant)
    return [
        Call("a2.grad.1", "worker_gradient", (W_PROBE, X[0], float(y[0]))),
        Call("a2.grad.2", "worker_gradient", (np.zeros(3), X[1], float(y[1]))),
        Call("a2.grad.3", "worker_gradient", (W_PROBE, PROBE_X[2], float(PROBE_Y[2]))),
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
        got = case.value
        if np.ndim(got) == 0 and not isinstance(got, list | tuple):
            raise CheckFailure(
                f"worker_gradient(W={fmt(w)}, x={fmt(x)}, y={t:g}) returned the single number "
                f"{got!r}: the gradient is a vector of shape (3,).\n  Likely cause: the gradient "
                "collapsed to a scalar, so all weights would move together; keep the factor x."
            )
        assert_close(
            got,
            ref.worker_gradient(w, x, t),
            rtol=1e-6,
            atol=1e-9,
            what=f"worker_gradient(W={fmt(w)}, x={fmt(x)}, y={t:g})",
            mistakes=mistakes,
        )


def server_step_calls(variant: dict) -> list[Call]:
    X, _, _ = _data(variant)
    return [
        Call("a2.server.list", "server_step", (W_PROBE, [X[0], X[1], X[2]], 0.1)),
        Call("a2.server.array", "server_step", (W_PROBE, PROBE_X, 0.05)),
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
            what=f"server_step(W, grads, lr={lr})",
            mistakes=mistakes,
        )


def _unpack_run(value, steps: int, n: int, d: int, what: str):
    W_hist, losses = tuple_of(value, 2, what)
    return as_array(W_hist, f"{what}: W_hist", (steps + 1, d)), as_array(
        losses, f"{what}: losses", (steps, n)
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


def _check_ps_run(case: Case, variant: dict, label: str = "") -> np.ndarray:
    """One deterministic parameter-server run, step by step from the student's own iterates,
    and its recorded losses; returns W_hist."""
    X, y, lr, steps, clip = _run_settings(case, variant)
    what = label or f"train_distributed{'' if clip is None else f'(clip={clip:g})'}"
    W_hist, losses = _unpack_run(case.value, steps, X.shape[0], X.shape[1], what)
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
    expected_losses = (W_hist[1:] @ X.T - y) ** 2
    mistakes = [
        Mistake(
            "losses were recorded before each step; record them after it.",
            lambda: (W_hist[:-1] @ X.T - y) ** 2,
        ),
        Mistake("the loss is missing its square.", lambda: W_hist[1:] @ X.T - y),
    ]
    assert_close(
        losses,
        expected_losses,
        rtol=RTOL,
        atol=1e-9 * max(1.0, float(y @ y)),
        what=f"{what}: losses[k, i] = (X_i W_(k+1) - y_i)^2",
        mistakes=mistakes,
    )
    return W_hist


def train_plain_calls(variant: dict) -> list[Call]:
    X, y, _ = _data(variant)
    return [
        Call("a2.train.plain", "train_distributed", (X, y)),
        Call("a2.train.probe", "train_distributed", (PROBE_X, PROBE_Y), {"lr": 0.05, "steps": 30}),
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
    _check_ps_run(probe, sub.variant, label="train_distributed on other data (lr=0.05, steps=30)")


def _plot_plain(sub: Sub, case: Case) -> None:
    """The student's W over the steps beside the reference run, when it has the right shape
    (anything else is the check's to report, and is never drawn)."""
    X, y = case.args
    W_ref = ref.train_distributed(X, y)[0]
    try:
        W_hist = as_array(tuple_of(case.value, 2, "")[0], "", W_ref.shape)
    except CheckFailure:
        return
    sub.add_plot(
        "A2.2",
        "A2.2 W during plain PS-SGD",
        {f"W[{j}]": W_hist[:, j] for j in range(W_hist.shape[1])},
        {f"W[{j}]": W_ref[:, j] for j in range(W_hist.shape[1])},
    )


# --------------------------------------------------------------------------- A2.3
def _tern_samples(value, d: int) -> np.ndarray:
    if not isinstance(value, list):
        raise CheckFailure("terngrad: the harness expected a list of draws.")
    return np.stack([as_array(v, "terngrad(g)", (d,)) for v in value])


def _tern_law_failures(samples: np.ndarray, g: np.ndarray, s: float, label: str) -> list[str]:
    problems = []
    allowed = [0.0, s]
    signs = np.sign(g)
    ok = np.zeros_like(samples, dtype=bool)
    for a in allowed:
        ok |= np.abs(samples - a * signs) <= 1e-6 * s
    if not ok.all():
        bad = np.argwhere(~ok)[0]
        problems.append(
            f"{label}: every entry must be 0 or s * sign(g_j) with s = {s:g}; draw {bad[0]} has "
            f"entry [{bad[1]}] = {samples[bad[0], bad[1]]:.6g} (g_j = {g[bad[1]]:g})."
            + (
                " Likely cause: one scaler shared by all workers, or s not max |g|."
                if np.isclose(abs(samples[bad[0], bad[1]]), np.abs(samples).max())
                else ""
            )
        )
        return problems
    n = samples.shape[0]
    eps = hoeffding_radius(n, s, FALSE_FAIL, dims=g.size)
    mean = samples.mean(axis=0)
    worst = int(np.argmax(np.abs(mean - g)))
    if abs(mean[worst] - g[worst]) > eps:
        cause = ""
        p = np.minimum(np.abs(g) / s, 1)
        if np.all(np.abs(mean - s * signs * (1 - p)) <= eps):
            cause = " Likely cause: the Bernoulli is inverted (keep with probability 1 - |g_j|/s)."
        elif np.all(np.abs(mean - s * signs * (p >= 0.5)) <= eps):
            cause = " Likely cause: rounding instead of sampling (b_j = 1 when |g_j|/s >= 0.5)."
        problems.append(
            f"{label}: not unbiased. Over {n} draws the mean of entry [{worst}] is "
            f"{mean[worst]:.4f}, but E[tern(g)] = g = {g[worst]:g}; a correct implementation "
            f"stays within {eps:.4f} (Hoeffding bound, false-fail probability < {FALSE_FAIL:g})."
            + cause
        )
    sq = (samples**2).mean(axis=0)
    eps2 = hoeffding_radius(n, s * s, FALSE_FAIL, dims=g.size)
    want = s * np.abs(g)
    worst = int(np.argmax(np.abs(sq - want)))
    if abs(sq[worst] - want[worst]) > eps2:
        problems.append(
            f"{label}: wrong spread. E[tern(g)_j^2] = s |g_j| = {want[worst]:.4f} for entry "
            f"[{worst}], but the draws give {sq[worst]:.4f} (allowed {eps2:.4f})."
        )
    return problems


def terngrad_calls(variant: dict) -> list[Call]:
    draws = {"repeat": TERN_DRAWS, "timeout": 30}
    return [
        Call("a2.tern.own_s", "terngrad", (TERN_G,), {"rng": Rng(11)}, **draws),
        Call("a2.tern.given_s", "terngrad", (TERN_G[:4], 5.0), {"rng": Rng(12)}, **draws),
    ]


@check(
    "a2.terngrad",
    points=3,
    problem="A2.3",
    title="TernGrad: values, scaler, unbiasedness, spread",
    function="terngrad",
    calls=terngrad_calls,
)
def test_terngrad(sub: Sub) -> None:
    def law(case: Case) -> None:
        g = case.args[0]
        s = case.args[1] if len(case.args) > 1 else None
        label = f"terngrad(g={fmt(g)}" + (f", s={s:g})" if s else ") with its own s = max|g|")
        found = _tern_law_failures(
            _tern_samples(case.value, g.size), g, s or float(np.abs(g).max()), label
        )
        if found:
            raise CheckFailure("\n".join(found))

    credit_parts(sub.cases(), law, separator="\n")


SURE = 1 - 1e-12  # a keep-probability this close to 1 is 1: that entry is always kept


@functools.cache
def _combos(n: int) -> np.ndarray:
    """Every 0/1 choice of n workers, one per row: shape (2^n, n)."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def _tern_steps_ok(W_hist, X, y, lr, scaler, clip) -> np.ndarray:
    """Whether each step W[k] -> W[k+1] is an average of per-worker ternary vectors at W[k].

    W_hist: (..., K+1, d); returns (..., K) booleans. Entry j of worker i is 0 or
    s sign(g_ij); when its keep-probability min(|g_ij|/s, 1) is 1 (the largest entry under
    s = max |g|, or a clipped entry under s = T) it is always s sign(g_ij): Bernoulli(1) never
    draws 0, so this holds for every correct implementation.
    """
    n = X.shape[0]
    W, W_next = W_hist[..., :-1, :], W_hist[..., 1:, :]
    G = _worker_grads(W, X, y, clip)  # (..., K, n, d)
    s = np.abs(G).max(axis=-1) if scaler is None else np.full(G.shape[:-1], float(scaler))
    full = s[..., None] * np.sign(G)
    sure = (np.abs(G) >= SURE * s[..., None]) & (s[..., None] > 0)
    kept = np.where(sure, full, 0.0).sum(axis=-2)  # (..., K, d)
    maybe = np.where(sure, 0.0, full)  # (..., K, n, d)
    totals = kept[..., None, :] + np.einsum("cn,...nd->...cd", _combos(n), maybe)
    steps = W[..., None, :] - lr * totals / n  # (..., K, 2^n, d)
    # rounding grows with the operands (|W| and the step), not the result, which is small
    # when an entry crosses zero
    tol = ATOL + RTOL * (np.abs(steps) + np.abs(W)[..., None, :] + lr * np.abs(totals) / n)
    per_coord = np.abs(steps - W_next[..., None, :]) <= tol  # (..., K, 2^n, d)
    return np.all(per_coord.any(axis=-2), axis=-1)


def _check_tern_runs(case: Case, variant: dict, label: str) -> list[str]:
    """100 seeded TernGrad runs: every step an average of per-worker ternary vectors, the
    runs random, and their final losses distributed as the reference's."""
    X, y, lr, steps, clip = _run_settings(case, variant)
    scaler = case.kwargs.get("scaler")
    value = case.value
    if not isinstance(value, list) or len(value) != TERN_RUNS:
        raise CheckFailure(f"{label}: the harness expected {TERN_RUNS} runs.")
    finals, histories = [], []
    for r, run in enumerate(value):
        if not isinstance(run, tuple | list) or len(run) != 2:
            raise CheckFailure(f"{label}: expected (W_hist, losses), got {type(run).__name__}.")
        W_hist = as_array(run[0], f"{label}: W_hist", (steps + 1, X.shape[1]))
        losses = as_array(run[1], f"{label}: losses", (steps, X.shape[0]))
        if not np.allclose(W_hist[0], 0):
            raise CheckFailure(f"{label}: W_hist[0] must be the start W = 0.")
        if r < 5:
            expected_losses = (W_hist[1:] @ X.T - y) ** 2
            mistakes = [
                Mistake(
                    "losses were recorded before each step; record them after it.",
                    lambda W_hist=W_hist: (W_hist[:-1] @ X.T - y) ** 2,
                ),
                Mistake(
                    "the loss is missing its square.", lambda W_hist=W_hist: W_hist[1:] @ X.T - y
                ),
            ]
            assert_close(
                losses,
                expected_losses,
                rtol=RTOL,
                atol=1e-9 * max(1.0, float(y @ y)),
                what=f"{label}, run {r}: losses[k, i] = (X_i W_(k+1) - y_i)^2",
                mistakes=mistakes,
            )
        histories.append(W_hist)
        finals.append(np.log10(losses[-1].sum() + 1e-300))
    with np.errstate(all="ignore"):  # inf or nan in a run fails below, with its run and step
        ok = _tern_steps_ok(np.stack(histories), X, y, lr, scaler, clip)  # every step's law
    if not ok.all():
        r, k = (int(i) for i in np.argwhere(~ok)[0])
        hint = (
            "each worker ternarizes its own (clipped) gradient with s = "
            f"{'max |g_i| of that worker' if scaler is None else f'{scaler:g}'}, "
            "keeping every entry whose probability |g_j|/s is 1; the server "
            "averages the ternary vectors."
        )
        raise CheckFailure(
            f"{label}: run {r}, step {k + 1}: W moved from {fmt(histories[r][k])} to "
            f"{fmt(histories[r][k + 1])}, which is not an average of ternary gradients "
            f"({hint})\n  Likely causes: one scaler for all workers, a gradient "
            "clipped the wrong way or not at all, a wrong gradient, or a sum "
            "instead of an average."
        )
    finals = np.array(finals)
    if np.ptp(finals) == 0:
        return [
            f"{label}: all {TERN_RUNS} runs, each with its own random stream, ended with exactly "
            "the same loss: the ternary gradients are not random.\n  Likely causes: rounding "
            "|g_j|/s instead of sampling, or ignoring the rng argument and reseeding."
        ]
    refs = _reference_finals(X, y, lr, steps, scaler, clip)
    dist = ks_statistic(finals, refs)
    crit = ks_critical(TERN_RUNS, REF_RUNS, FALSE_FAIL)
    if dist > crit:
        return [
            f"{label}: over {TERN_RUNS} seeds, the distribution of the final log10 loss differs "
            f"from the reference's (Kolmogorov-Smirnov distance {dist:.3f} > {crit:.3f}, "
            f"false-fail probability < {FALSE_FAIL:g}). Your median {np.median(finals):.2f}, "
            f"reference median {np.median(refs):.2f}. Likely cause: the keep-probability is not "
            "|g_j| / s (inverted or rounded)."
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


def train_terngrad_calls(variant: dict) -> list[Call]:
    X, y, _ = _data(variant)
    kwargs = {"ternary": True, "steps": TERN_STEPS, "rng": Rng(13)}
    return [
        Call("a2.train.tern", "train_distributed", (X, y), kwargs, repeat=TERN_RUNS, timeout=60)
    ]


@check(
    "a2.train_terngrad",
    points=3,
    problem="A2.3",
    title="training with TernGrad (per-worker scaler, distribution over seeds)",
    function="train_distributed",
    calls=train_terngrad_calls,
)
def test_train_terngrad(sub: Sub) -> None:
    (case,) = sub.cases()
    problems = _check_tern_runs(case, sub.variant, "train_distributed(ternary=True)")
    if problems:
        raise CheckFailure("\n".join(problems))


# --------------------------------------------------------------------------- A2.4
def clip_calls(variant: dict) -> list[Call]:
    return [
        Call("a2.clip.1", "clip_gradient", (np.array([-7.0, 0.5, 3.0, -2.0]), 2.0)),
        Call("a2.clip.2", "clip_gradient", (np.array([10.0, -10.0, 1.0]), 5.0)),
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
    return [
        Call(f"a2.train.clip{T:g}", "train_distributed", (X, y), {"clip": float(T)})
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
    kwargs = {"clip": T, "ternary": True, "scaler": T, "steps": TERN_STEPS, "rng": Rng(14)}
    return [
        Call(
            "a2.train.tern_clip", "train_distributed", (X, y), kwargs, repeat=TERN_RUNS, timeout=60
        )
    ]


@check(
    "a2.train_tern_clip",
    points=3,
    problem="A2.5",
    title="clipping then TernGrad with s = T",
    function="train_distributed",
    calls=train_tern_clip_calls,
)
def test_train_tern_clip(sub: Sub) -> None:
    (case,) = sub.cases()
    T = float(case.kwargs["clip"])
    label = f"train_distributed(clip={T:g}, ternary=True, scaler={T:g})"
    result = case.result
    if (
        result.status == "error"
        and "ValueError" in result.error
        and ("p" in result.error or "probab" in result.error)
    ):
        raise CheckFailure(
            f"{label} raised {result.error}\n"
            "  Likely cause: with s = T the keep-probability |g_j|/s exceeds 1 unless the "
            "gradient is clipped into [-T, T] first."
        )
    problems = _check_tern_runs(case, sub.variant, label)
    if problems:
        raise CheckFailure("\n".join(problems))
