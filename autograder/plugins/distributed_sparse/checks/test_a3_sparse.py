"""Hidden checks for A3: the loss, the sparsity operators and the five training methods.

Operators are checked on fixed vectors, ties included (any valid tie choice passes).
Trajectories are checked step by step from the student's own iterates; trimmed L1 accepts
either selection rule of HOMEWORK A3.5 (by |v| after the gradient step, or by |W| before
it), each applied to the whole run.
"""

from __future__ import annotations

import numpy as np

from autograder.checking.compare import Mistake, as_array, assert_close, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub, tuple_of
from autograder.checking.trajectory import check_trajectory, selections, tie_tol
from autograder.checking.verdict import CheckFailure
from effdl import sparse_opt as ref

RTOL, ATOL = 1e-5, 1e-6
PROBE_X = np.array(
    [[2.0, 1.0, -1.0, 0.0, 3.0], [0.0, -2.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, -3.0, 0.0]]
)
PROBE_Y = np.array([4.0, -3.0, 2.0])
TOPK_CASES = [
    (np.array([0.1, -3.0, 0.5, 2.0, -0.5]), 2),
    (np.array([1.0, -2.0, 2.0, 0.5, -2.0]), 2),  # three tied at |2|
    (np.array([0.3, 0.0, -0.2, 0.0, 0.0]), 3),  # fewer nonzeros than k beyond the zeros
]
SOFT_CASES = [
    (np.array([0.5, -0.02, 0.01, -0.3, 0.0, 0.02]), 0.02),
    (np.array([3.0, -1.0, 0.04]), 0.5),
]
TRIM_CASES = [
    (np.array([0.3, -0.05, 2.0, 0.01, -1.5]), 0.1, 3),
    (np.array([0.2, -0.2, 1.0, 0.2, -3.0]), 0.05, 2),  # three tied at |0.2|, two trimmed
    (np.array([-4.0, 0.5, 0.7, -0.1, 2.0, 0.05]), 0.2, 4),
]


def _data(variant: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """The variant's A3 data: X (3, 5), y (3,), and its settings."""
    a3 = variant["a3"]
    return np.array(a3["X"], dtype=float), np.array(a3["y"], dtype=float), a3


W_PROBE = np.array([0.5, -1.0, 0.0, 2.0, 1.0])


def _run(call_id: str, X, y, method: str, **kwargs) -> Call:
    return Call(f"a3.run.{call_id}", "train_sparse", (X, y, method), kwargs)


# --------------------------------------------------------------------------- operators
def loss_and_grad_calls(variant: dict) -> list[Call]:
    X, y, _ = _data(variant)
    return [
        Call("a3.lg.zero", "loss_and_grad", (np.zeros(5), X, y)),
        Call("a3.lg.w", "loss_and_grad", (W_PROBE, X, y)),
        Call("a3.lg.probe", "loss_and_grad", (W_PROBE, PROBE_X, PROBE_Y)),
    ]


@check(
    "a3.loss_and_grad",
    points=2,
    problem="A3",
    title="data loss (a sum) and its gradient",
    function="loss_and_grad",
    calls=loss_and_grad_calls,
)
def test_loss_and_grad(sub: Sub) -> None:
    for case in sub.cases():
        w, A, b = case.args
        L, g = tuple_of(case.value, 2, "loss_and_grad")
        L_ref, g_ref = ref.loss_and_grad(w, A, b)
        n = A.shape[0]
        what = f"loss_and_grad(W={fmt(w)})"
        assert_close(
            L,
            L_ref,
            rtol=1e-6,
            atol=1e-9,
            what=f"{what}: L",
            mistakes=[
                Mistake(
                    "L is a mean; this problem's L is the SUM of squared errors.",
                    lambda L_ref=L_ref, n=n: L_ref / n,
                ),
                Mistake(
                    "the square is missing or the sum is of |errors|.",
                    lambda w=w, A=A, b=b: np.sum(np.abs(A @ w - b)),
                ),
                Mistake(
                    "y was kept as an (n, 1) column, so X W - y broadcast to an (n, n) "
                    "matrix; use vectors of shape (n,).",
                    lambda w=w, A=A, b=b: np.sum((A @ w - b.reshape(-1, 1)) ** 2),
                ),
            ],
        )
        assert_close(
            g,
            g_ref,
            rtol=1e-6,
            atol=1e-9,
            what=f"{what}: grad",
            mistakes=[
                Mistake(
                    "the gradient is divided by n (a mean loss).",
                    lambda g_ref=g_ref, n=n: g_ref / n,
                ),
                Mistake("the factor 2 is missing.", lambda g_ref=g_ref: g_ref / 2),
                Mistake(
                    "the sign is flipped: 2 X^T (X W - y), not 2 X^T (y - X W).",
                    lambda g_ref=g_ref: -g_ref,
                ),
            ],
        )


def _selection_ok(got: np.ndarray, v: np.ndarray, chosen_sets, transform) -> bool:
    """Whether got equals transform(v, chosen) for some valid chosen set."""
    for chosen in chosen_sets:
        want = transform(v, list(chosen))
        if np.allclose(got, want, rtol=1e-9, atol=1e-12):
            return True
    return False


def _keep(v, chosen):
    out = np.zeros_like(v)
    out[chosen] = v[chosen]
    return out


def topk_calls(variant: dict) -> list[Call]:
    return [Call(f"a3.topk.{i}", "project_top_k", (w, k)) for i, (w, k) in enumerate(TOPK_CASES)]


@check(
    "a3.project_top_k",
    points=1,
    problem="A3.2",
    title="keep the k largest |W| (ties: any)",
    function="project_top_k",
    calls=topk_calls,
)
def test_project_top_k(sub: Sub) -> None:
    for case in sub.cases():
        w, k = case.args
        got = as_array(case.value, f"project_top_k({fmt(w)}, k={k})", w.shape)
        sets = selections(np.abs(w), k, largest=True, tol=tie_tol(w))
        if not _selection_ok(got, w, sets, _keep):
            cause = ""
            if np.allclose(got, _keep(w, list(range(k)))):
                cause = "\n  Likely cause: the first k entries by index were kept, not the k largest |W|."
            elif np.allclose(got, _keep(w, list(np.argsort(w)[-k:]))):
                cause = "\n  Likely cause: the largest signed values were kept; rank by |W|."
            raise CheckFailure(
                f"project_top_k({fmt(w)}, k={k}) returned {fmt(got)}; expected {fmt(ref.project_top_k(w, k))} "
                f"(any choice among tied |W| is accepted){cause}"
            )


def soft_calls(variant: dict) -> list[Call]:
    return [Call(f"a3.soft.{i}", "soft_threshold", (v, t)) for i, (v, t) in enumerate(SOFT_CASES)]


@check(
    "a3.soft_threshold",
    points=1,
    problem="A3.4",
    title="soft thresholding S_t",
    function="soft_threshold",
    calls=soft_calls,
)
def test_soft_threshold(sub: Sub) -> None:
    for case in sub.cases():
        v, t = case.args
        assert_close(
            case.value,
            ref.soft_threshold(v, t),
            rtol=1e-9,
            atol=1e-12,
            what=f"soft_threshold({fmt(v)}, t={t:g})",
            mistakes=[
                Mistake(
                    "small entries were zeroed but large ones not shrunk by t (hard thresholding).",
                    lambda v=v, t=t: np.where(np.abs(v) > t, v, 0.0),
                ),
                Mistake(
                    "the shrink ignores the sign: sign(v) * max(|v| - t, 0).",
                    lambda v=v, t=t: np.maximum(np.abs(v) - t, 0.0),
                ),
            ],
        )


def _trim(t):
    def apply(v, chosen):
        out = v.copy()
        out[chosen] = ref.soft_threshold(v[chosen], t)
        return out

    return apply


def trimmed_calls(variant: dict) -> list[Call]:
    return [
        Call(f"a3.trim.{i}", "trimmed_soft_threshold", (v, t), {"n_trim": n})
        for i, (v, t, n) in enumerate(TRIM_CASES)
    ]


@check(
    "a3.trimmed_soft_threshold",
    points=1.5,
    problem="A3.5",
    title="trimmed soft thresholding (only the n_trim smallest |v|)",
    function="trimmed_soft_threshold",
    calls=trimmed_calls,
)
def test_trimmed(sub: Sub) -> None:
    for case in sub.cases():
        (v, t), n = case.args, case.kwargs["n_trim"]
        what = f"trimmed_soft_threshold({fmt(v)}, t={t:g}, n_trim={n})"
        got = as_array(case.value, what, v.shape)
        sets = selections(np.abs(v), n, largest=False, tol=tie_tol(v))
        if _selection_ok(got, v, sets, _trim(t)):
            continue
        cause = ""
        if np.allclose(got, ref.soft_threshold(v, t)):
            cause = "every entry was thresholded; only the n_trim smallest |v| should be."
        elif np.allclose(got, _trim(t)(v, list(np.argsort(v)[:n]))):
            cause = "the trimmed set was chosen by signed value; choose by |v|."
        elif np.allclose(got, _trim(t)(v, list(np.argsort(-np.abs(v))[:n]))):
            cause = "the LARGEST entries were thresholded; trimmed L1 spares the largest."
        elif n != 3 and np.allclose(
            got, _trim(t)(v, list(np.argsort(np.abs(v), kind="stable")[:3]))
        ):
            cause = "n_trim was ignored (always 3)."
        raise CheckFailure(
            f"{what} returned {fmt(got)}; expected {fmt(ref.trimmed_soft_threshold(v, t, n))} "
            "(any choice among tied |v| is accepted)"
            + (f"\n  Likely cause: {cause}" if cause else "")
        )


# --------------------------------------------------------------------------- trajectories
def _grad(W, X, y):
    """grad L at W, shape (d,); or at every row of W, shape (K, d)."""
    return 2.0 * ((W @ X.T - y) @ X)


def _step(X, y, mu, method, lam=None, t=None, trim_by="v"):
    """The acceptable next iterates of one method from W (several when a selection ties)."""

    def step(W):
        v = W - mu * _grad(W, X, y)
        if method == "gd":
            return [v]
        if method == "prune":
            return [_keep(v, list(c)) for c in selections(np.abs(v), 2, True, tie_tol(v))]
        if method == "l1":
            return [v - mu * lam * np.sign(W)]
        if method == "prox":
            return [ref.soft_threshold(v, t)]
        basis = np.abs(v) if trim_by == "v" else np.abs(W)
        return [_trim(t)(v, list(c)) for c in selections(basis, 3, False, tie_tol(basis))]

    return step


def _batch_step(X, y, mu, method, lam=None, t=None, trim_by="v"):
    """`_step` for every row of W (shape (K, d)) at once, one candidate per row: where a
    selection ties, the lowest indices (always among `_step`'s candidates)."""

    def soft(values):
        return ref.soft_threshold(values.ravel(), t).reshape(values.shape)

    def batch(W):
        v = W - mu * _grad(W, X, y)
        if method == "gd":
            return v
        if method == "l1":
            return v - mu * lam * np.sign(W)
        if method == "prox":
            return soft(v)
        if method == "prune":
            chosen = np.argsort(-np.abs(v), axis=1, kind="stable")[:, :2]
            out = np.zeros_like(v)
            np.put_along_axis(out, chosen, np.take_along_axis(v, chosen, axis=1), axis=1)
            return out
        basis = np.abs(v) if trim_by == "v" else np.abs(W)
        chosen = np.argsort(basis, axis=1, kind="stable")[:, :3]
        out = v.copy()
        np.put_along_axis(out, chosen, soft(np.take_along_axis(v, chosen, axis=1)), axis=1)
        return out

    return batch


def _mistakes(X, y, mu, method, lam=None, t=None):
    out = [
        (
            "the gradient of a MEAN loss was used; L is a sum over the data points.",
            lambda W: [_variant(W, X, y, mu, method, lam, t, scale=1 / len(y))],
        ),
        (
            "per-sample updates: full-batch gradient descent uses all points at once.",
            lambda W: [_per_sample(W, X, y, mu)] if method == "gd" else [],
        ),
    ]
    if method == "l1":
        out += [
            (
                "the L1 term was scaled by 2 mu; the subgradient step is mu * lam * sign(W).",
                lambda W: [W - mu * _grad(W, X, y) - 2 * mu * lam * np.sign(W)],
            ),
            (
                "proximal and subgradient steps were applied together; use only the subgradient.",
                lambda W: [
                    ref.soft_threshold(W - mu * _grad(W, X, y) - mu * lam * np.sign(W), mu * lam)
                ],
            ),
            (
                "the L1 subgradient has the wrong sign.",
                lambda W: [W - mu * _grad(W, X, y) + mu * lam * np.sign(W)],
            ),
            (
                "the L1 term was taken at the new point instead of the current W.",
                lambda W: [(W - mu * _grad(W, X, y)) - mu * lam * np.sign(W - mu * _grad(W, X, y))],
            ),
        ]
    if method == "prox":
        out += [
            (
                "proximal and subgradient steps were applied together.",
                lambda W: [ref.soft_threshold(W - mu * _grad(W, X, y) - t * np.sign(W), t)],
            ),
            (
                "the threshold was lambda instead of mu * lambda.",
                lambda W: [ref.soft_threshold(W - mu * _grad(W, X, y), t / mu)],
            ),
        ]
    if method == "trimmed":
        out += [
            (
                "every entry was thresholded (plain L1 prox); trimmed L1 spares the 2 largest.",
                lambda W: [ref.soft_threshold(W - mu * _grad(W, X, y), t)],
            ),
            (
                "the trimmed set was chosen by |gradient|, not by |v| or |W|.",
                lambda W: [
                    _trim(t)(W - mu * _grad(W, X, y), list(np.argsort(np.abs(_grad(W, X, y)))[:3]))
                ],
            ),
            (
                "the trimmed set was chosen by signed value, not by magnitude.",
                lambda W: [
                    _trim(t)(W - mu * _grad(W, X, y), list(np.argsort(W - mu * _grad(W, X, y))[:3]))
                ],
            ),
        ]
    if method == "prune":
        out += [
            (
                "the first 2 entries by index were kept, not the 2 largest |W|.",
                lambda W: [_keep(W - mu * _grad(W, X, y), [0, 1])],
            )
        ]
    return out


def _variant(W, X, y, mu, method, lam, t, scale):
    v = W - mu * scale * _grad(W, X, y)
    if method == "gd":
        return v
    if method == "prune":
        return ref.project_top_k(v, 2)
    if method == "l1":
        return v - mu * lam * np.sign(W)
    if method == "prox":
        return ref.soft_threshold(v, t)
    return ref.trimmed_soft_threshold(v, t, 3)


def _per_sample(W, X, y, mu):
    for i in range(len(y)):
        W = W - mu * 2.0 * X[i] * (X[i] @ W - y[i])
    return W


def _check_run(case: Case, label: str) -> np.ndarray:
    """One train_sparse run, step by step from the student's own iterates, and its recorded
    data losses; returns W_hist."""
    X, y, method = case.args
    kwargs = case.kwargs
    steps = int(kwargs.get("steps", 200))
    mu = 0.02
    lam = kwargs.get("lam")
    t = kwargs.get("threshold", None if lam is None else mu * lam)
    W_hist, L_hist = tuple_of(case.value, 2, label)
    W_hist = as_array(W_hist, f"{label}: W_hist", (steps + 1, X.shape[1]))
    L_hist = as_array(L_hist, f"{label}: L_hist", (steps + 1,))
    start = np.zeros(X.shape[1])
    mistakes = _mistakes(X, y, mu, method, lam, t)
    if method == "trimmed":
        try:
            check_trajectory(
                W_hist,
                _step(X, y, mu, method, lam, t, "v"),
                rtol=RTOL,
                atol=ATOL,
                what=label,
                start=start,
                mistakes=mistakes,
                batch=_batch_step(X, y, mu, method, lam, t, "v"),
            )
        except CheckFailure as by_v:
            try:
                check_trajectory(
                    W_hist,
                    _step(X, y, mu, method, lam, t, "w"),
                    rtol=RTOL,
                    atol=ATOL,
                    what=label,
                    start=start,
                    batch=_batch_step(X, y, mu, method, lam, t, "w"),
                )
            except CheckFailure:
                raise by_v from None
    else:
        check_trajectory(
            W_hist,
            _step(X, y, mu, method, lam, t),
            rtol=RTOL,
            atol=ATOL,
            what=label,
            start=start,
            mistakes=mistakes,
            batch=_batch_step(X, y, mu, method, lam, t),
        )
    L_ref = np.sum((W_hist @ X.T - y) ** 2, axis=1)
    penalty = np.abs(W_hist).sum(axis=1) * (lam if lam is not None else (t or 0) / mu)
    assert_close(
        L_hist,
        L_ref,
        rtol=RTOL,
        atol=1e-8 * max(1.0, float(y @ y)),
        what=f"{label}: L_hist (the data loss of each row of W_hist)",
        mistakes=[
            Mistake(
                "the regularized objective was recorded; record the data loss L.",
                lambda: L_ref + penalty,
            ),
            Mistake("the loss is a mean; L is the sum of squared errors.", lambda: L_ref / len(y)),
        ],
    )
    return W_hist


def _score_runs(cases: list[Case], suffix: str = "") -> None:
    """Check each run; partial credit per run."""
    credit_parts(cases, lambda case: _check_run(case, _label(case, suffix)))


def _label(case: Case, suffix: str = "") -> str:
    """How feedback names a run: train_sparse(X, y, 'l1', lam=0.5), plus what is special."""
    method = case.args[2]
    args = ", ".join(f"{k}={v:g}" for k, v in case.kwargs.items() if k != "steps")
    return f"train_sparse(X, y, {method!r}{', ' + args if args else ''}){suffix}"


def _plot(sub: Sub, problem: str, case: Case) -> None:
    """The student's loss and W over the steps beside the reference run, when the run has
    the right shapes (anything else is the check's to report, and is never drawn)."""
    X, y, method = case.args
    W_ref, L_ref = ref.train_sparse(X, y, method, **case.kwargs)
    try:
        W_hist, L_hist = tuple_of(case.value, 2, "")
        W_hist = as_array(W_hist, "", W_ref.shape)
        L_hist = as_array(L_hist, "", L_ref.shape)
    except CheckFailure:
        return
    label = _label(case)
    sub.add_plot(
        problem,
        f"{problem} log10 L, {label}",
        {"yours": L_hist},
        {"reference": L_ref},
        log_y=True,
    )
    sub.add_plot(
        problem,
        f"{problem} W, {label}",
        {f"W[{j}]": W_hist[:, j] for j in range(W_hist.shape[1])},
        {f"W[{j}]": W_ref[:, j] for j in range(W_ref.shape[1])},
    )


def train_gd_calls(variant: dict) -> list[Call]:
    X, y, _ = _data(variant)
    return [_run("gd", X, y, "gd"), _run("probe_gd", PROBE_X, PROBE_Y, "gd", steps=40)]


@check(
    "a3.train_gd",
    points=3,
    problem="A3.1",
    title="plain gradient descent run",
    function="train_sparse",
    calls=train_gd_calls,
)
def test_train_gd(sub: Sub) -> None:
    own, probe = sub.cases()
    _plot(sub, "A3.1", own)
    credit_parts(
        [(own, ""), (probe, " on other data, 40 steps")],
        lambda part: _check_run(part[0], _label(*part)),
    )


def train_prune_calls(variant: dict) -> list[Call]:
    X, y, _ = _data(variant)
    return [_run("prune", X, y, "prune")]


@check(
    "a3.train_prune",
    points=3,
    problem="A3.2",
    title="iterative pruning (projected GD, k=2)",
    function="train_sparse",
    calls=train_prune_calls,
)
def test_train_prune(sub: Sub) -> None:
    _plot(sub, "A3.2", sub.case("a3.run.prune"))
    _score_runs(sub.cases())


def train_l1_calls(variant: dict) -> list[Call]:
    X, y, a3 = _data(variant)
    return [_run(f"l1.{lam:g}", X, y, "l1", lam=lam) for lam in a3["l1_lams"]]


@check(
    "a3.train_l1",
    points=3,
    problem="A3.3",
    title="L1 by subgradient, each lambda",
    function="train_sparse",
    calls=train_l1_calls,
)
def test_train_l1(sub: Sub) -> None:
    runs = sub.cases()
    _plot(sub, "A3.3", runs[-1])
    _score_runs(runs)


def train_prox_calls(variant: dict) -> list[Call]:
    X, y, a3 = _data(variant)
    runs = [_run(f"prox.{t:g}", X, y, "prox", threshold=t) for t in a3["prox_ts"]]
    return [*runs, _run("prox_lam", X, y, "prox", lam=1.0)]


@check(
    "a3.train_prox",
    points=3,
    problem="A3.4",
    title="proximal gradient, each threshold",
    function="train_sparse",
    calls=train_prox_calls,
)
def test_train_prox(sub: Sub) -> None:
    sweep = sub.cases("a3.run.prox.")
    _plot(sub, "A3.4", sweep[-1])
    parts = [(case, "") for case in sweep]
    parts.append((sub.case("a3.run.prox_lam"), " (t = mu * lam = 0.02)"))
    credit_parts(parts, lambda part: _check_run(part[0], _label(*part)))


def train_trimmed_calls(variant: dict) -> list[Call]:
    X, y, a3 = _data(variant)
    runs = [_run(f"trimmed.{t:g}", X, y, "trimmed", threshold=t) for t in a3["trimmed_ts"]]
    probe = _run("probe_trim", PROBE_X, PROBE_Y, "trimmed", threshold=0.05, steps=40)
    return [*runs, probe]


@check(
    "a3.train_trimmed",
    points=4,
    problem="A3.5",
    title="trimmed L1, each threshold",
    function="train_sparse",
    calls=train_trimmed_calls,
)
def test_train_trimmed(sub: Sub) -> None:
    sweep = sub.cases("a3.run.trimmed.")
    _plot(sub, "A3.5", sweep[-1])
    parts = [(case, "") for case in sweep]
    parts.append((sub.case("a3.run.probe_trim"), " on other data, 40 steps"))
    credit_parts(parts, lambda part: _check_run(part[0], _label(*part)))


def extra_calls(variant: dict) -> list[Call]:
    X, y, _ = _data(variant)
    X2, y2 = X[:2], y[:2]
    return [
        _run("x.prune", X2, y2, "prune"),
        _run("x.l1", X2, y2, "l1", lam=0.5),
        _run("x.prox", X2, y2, "prox", threshold=0.01),
        _run("x.trimmed", X2, y2, "trimmed", threshold=0.04),
    ]


@check(
    "a3.extra_two_points",
    points=5,
    problem="A3.6",
    extra_credit=True,
    title="the sparse methods with the first 2 data points",
    function="train_sparse",
    calls=extra_calls,
)
def test_extra(sub: Sub) -> None:
    _score_runs(sub.cases(), " with 2 points")
