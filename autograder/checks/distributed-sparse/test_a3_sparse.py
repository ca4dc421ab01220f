"""Hidden checks for A3: the loss, the sparsity operators and the five training methods.

Operators are checked on fixed vectors, ties included (any valid tie choice passes).
Trajectories are checked step by step from the student's own iterates; trimmed L1 accepts
either selection rule of HOMEWORK A3.5 (by |v| after the gradient step, or by |W| before
it), each applied to the whole run.
"""

from __future__ import annotations

import numpy as np

from autograder.checking import Call, Sub, check
from autograder.compare import CheckFailure, Mistake, Partial, as_array, assert_close, fmt
from autograder.trajectory import check_trajectory, selections, tie_tol
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


def _data(obj) -> tuple[np.ndarray, np.ndarray, dict]:
    v = obj.variant if isinstance(obj, Sub) else obj
    a3 = v["a3"]
    return np.array(a3["X"], dtype=float), np.array(a3["y"], dtype=float), a3


def _runs(a3: dict) -> list[tuple[str, str, dict]]:
    """(call id, method, keyword arguments) of every graded train_sparse run on own data."""
    runs = [("gd", "gd", {}), ("prune", "prune", {})]
    runs += [(f"l1.{lam:g}", "l1", {"lam": lam}) for lam in a3["l1_lams"]]
    runs += [(f"prox.{t:g}", "prox", {"threshold": t}) for t in a3["prox_ts"]]
    runs += [(f"trimmed.{t:g}", "trimmed", {"threshold": t}) for t in a3["trimmed_ts"]]
    return runs


EXTRA_RUNS = [
    ("x.prune", "prune", {}),
    ("x.l1", "l1", {"lam": 0.5}),
    ("x.prox", "prox", {"threshold": 0.01}),
    ("x.trimmed", "trimmed", {"threshold": 0.04}),
]


def calls(variant: dict) -> list[Call]:
    X, y, a3 = _data(variant)
    W = np.array([0.5, -1.0, 0.0, 2.0, 1.0])
    out = [
        Call("a3.lg.zero", "loss_and_grad", (np.zeros(5), X, y)),
        Call("a3.lg.w", "loss_and_grad", (W, X, y)),
        Call("a3.lg.probe", "loss_and_grad", (W, PROBE_X, PROBE_Y)),
    ]
    out += [Call(f"a3.topk.{i}", "project_top_k", (w, k)) for i, (w, k) in enumerate(TOPK_CASES)]
    out += [Call(f"a3.soft.{i}", "soft_threshold", (v, t)) for i, (v, t) in enumerate(SOFT_CASES)]
    out += [
        Call(f"a3.trim.{i}", "trimmed_soft_threshold", (v, t), {"n_trim": n})
        for i, (v, t, n) in enumerate(TRIM_CASES)
    ]
    for name, method, kwargs in _runs(a3):
        out.append(Call(f"a3.run.{name}", "train_sparse", (X, y, method), kwargs))
    out.append(Call("a3.run.prox_lam", "train_sparse", (X, y, "prox"), {"lam": 1.0}))
    out.append(Call("a3.run.probe_gd", "train_sparse", (PROBE_X, PROBE_Y, "gd"), {"steps": 40}))
    out.append(
        Call(
            "a3.run.probe_trim",
            "train_sparse",
            (PROBE_X, PROBE_Y, "trimmed"),
            {"threshold": 0.05, "steps": 40},
        )
    )
    for name, method, kwargs in EXTRA_RUNS:
        out.append(Call(f"a3.run.{name}", "train_sparse", (X[:2], y[:2], method), kwargs))
    return out


# --------------------------------------------------------------------------- operators
@check(
    "a3.loss_and_grad",
    points=2,
    problem="A3",
    title="data loss (a sum) and its gradient",
    function="loss_and_grad",
)
def test_loss_and_grad(sub: Sub) -> None:
    X, y, _ = _data(sub)
    W = np.array([0.5, -1.0, 0.0, 2.0, 1.0])
    for call_id, w, A, b in (
        ("a3.lg.zero", np.zeros(5), X, y),
        ("a3.lg.w", W, X, y),
        ("a3.lg.probe", W, PROBE_X, PROBE_Y),
    ):
        L, g = sub.tuple_of(call_id, 2, "loss_and_grad")
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


@check(
    "a3.project_top_k",
    points=1,
    problem="A3.2",
    title="keep the k largest |W| (ties: any)",
    function="project_top_k",
)
def test_project_top_k(sub: Sub) -> None:
    for i, (w, k) in enumerate(TOPK_CASES):
        got = as_array(sub.value(f"a3.topk.{i}"), f"project_top_k({fmt(w)}, k={k})", w.shape)
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


@check(
    "a3.soft_threshold",
    points=1,
    problem="A3.4",
    title="soft thresholding S_t",
    function="soft_threshold",
)
def test_soft_threshold(sub: Sub) -> None:
    for i, (v, t) in enumerate(SOFT_CASES):
        assert_close(
            sub.value(f"a3.soft.{i}"),
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


@check(
    "a3.trimmed_soft_threshold",
    points=1.5,
    problem="A3.5",
    title="trimmed soft thresholding (only the n_trim smallest |v|)",
    function="trimmed_soft_threshold",
)
def test_trimmed(sub: Sub) -> None:
    for i, (v, t, n) in enumerate(TRIM_CASES):
        what = f"trimmed_soft_threshold({fmt(v)}, t={t:g}, n_trim={n})"
        got = as_array(sub.value(f"a3.trim.{i}"), what, v.shape)
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


def _check_run(sub: Sub, call_id: str, X, y, method, kwargs, steps, label) -> np.ndarray:
    mu = 0.02
    lam = kwargs.get("lam")
    t = kwargs.get("threshold", None if lam is None else mu * lam)
    W_hist, L_hist = sub.tuple_of(call_id, 2, label)
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


def _score_runs(sub: Sub, runs: list[tuple]) -> None:
    """Check (call id, X, y, method, kwargs, steps, label) runs; partial credit per run."""
    failures = []
    for call_id, X, y, method, kwargs, steps, label in runs:
        try:
            _check_run(sub, call_id, X, y, method, kwargs, steps, label)
        except CheckFailure as exc:
            failures.append(str(exc))
    if failures:
        raise Partial(1 - len(failures) / len(runs), "\n\n".join(failures))


def _label(method, kwargs, suffix=""):
    args = ", ".join(f"{k}={v:g}" for k, v in kwargs.items())
    return f"train_sparse(X, y, {method!r}{', ' + args if args else ''}){suffix}"


def _sweep(sub: Sub, problem: str, X, y, method: str, key: str, values) -> list[tuple]:
    """The 200-step runs of `method` for each value of its parameter `key`; the last value's
    run is the one plotted beside the reference."""
    last = values[-1]
    _plot(sub, problem, f"a3.run.{method}.{last:g}", X, y, method, {key: last})
    return [
        (f"a3.run.{method}.{v:g}", X, y, method, {key: v}, 200, _label(method, {key: v}))
        for v in values
    ]


def _plot(sub: Sub, problem: str, call_id: str, X, y, method, kwargs) -> None:
    try:
        W_hist, L_hist = sub.tuple_of(call_id, 2, "")
        W_hist = np.asarray(W_hist, dtype=float).reshape(201, -1)
        L_hist = np.asarray(L_hist, dtype=float).reshape(201)
    except (CheckFailure, ValueError, TypeError):
        return
    W_ref, L_ref = ref.train_sparse(X, y, method, **kwargs)
    sub.add_plot(
        problem,
        f"{problem} log10 L, {_label(method, kwargs)}",
        {"yours": L_hist},
        {"reference": L_ref},
        log_y=True,
    )
    sub.add_plot(
        problem,
        f"{problem} W, {_label(method, kwargs)}",
        {f"W[{j}]": W_hist[:, j] for j in range(W_hist.shape[1])},
        {f"W[{j}]": W_ref[:, j] for j in range(W_ref.shape[1])},
    )


@check(
    "a3.train_gd",
    points=3,
    problem="A3.1",
    title="plain gradient descent run",
    function="train_sparse",
)
def test_train_gd(sub: Sub) -> None:
    X, y, _ = _data(sub)
    _plot(sub, "A3.1", "a3.run.gd", X, y, "gd", {})
    _score_runs(
        sub,
        [
            ("a3.run.gd", X, y, "gd", {}, 200, _label("gd", {})),
            (
                "a3.run.probe_gd",
                PROBE_X,
                PROBE_Y,
                "gd",
                {},
                40,
                _label("gd", {}, " on other data, 40 steps"),
            ),
        ],
    )


@check(
    "a3.train_prune",
    points=3,
    problem="A3.2",
    title="iterative pruning (projected GD, k=2)",
    function="train_sparse",
)
def test_train_prune(sub: Sub) -> None:
    X, y, _ = _data(sub)
    _plot(sub, "A3.2", "a3.run.prune", X, y, "prune", {})
    _score_runs(sub, [("a3.run.prune", X, y, "prune", {}, 200, _label("prune", {}))])


@check(
    "a3.train_l1",
    points=3,
    problem="A3.3",
    title="L1 by subgradient, each lambda",
    function="train_sparse",
)
def test_train_l1(sub: Sub) -> None:
    X, y, a3 = _data(sub)
    _score_runs(sub, _sweep(sub, "A3.3", X, y, "l1", "lam", a3["l1_lams"]))


@check(
    "a3.train_prox",
    points=3,
    problem="A3.4",
    title="proximal gradient, each threshold",
    function="train_sparse",
)
def test_train_prox(sub: Sub) -> None:
    X, y, a3 = _data(sub)
    runs = _sweep(sub, "A3.4", X, y, "prox", "threshold", a3["prox_ts"])
    label = _label("prox", {"lam": 1.0}, " (t = mu * lam = 0.02)")
    runs.append(("a3.run.prox_lam", X, y, "prox", {"lam": 1.0}, 200, label))
    _score_runs(sub, runs)


@check(
    "a3.train_trimmed",
    points=4,
    problem="A3.5",
    title="trimmed L1, each threshold",
    function="train_sparse",
)
def test_train_trimmed(sub: Sub) -> None:
    X, y, a3 = _data(sub)
    runs = _sweep(sub, "A3.5", X, y, "trimmed", "threshold", a3["trimmed_ts"])
    label = _label("trimmed", {"threshold": 0.05}, " on other data, 40 steps")
    runs.append(("a3.run.probe_trim", PROBE_X, PROBE_Y, "trimmed", {"threshold": 0.05}, 40, label))
    _score_runs(sub, runs)


@check(
    "a3.extra_two_points",
    points=5,
    problem="A3.6",
    extra_credit=True,
    title="the sparse methods with the first 2 data points",
    function="train_sparse",
)
def test_extra(sub: Sub) -> None:
    X, y, _ = _data(sub)
    _score_runs(
        sub,
        [
            (
                f"a3.run.{name}",
                X[:2],
                y[:2],
                method,
                kwargs,
                200,
                _label(method, kwargs, " with 2 points"),
            )
            for name, method, kwargs in EXTRA_RUNS
        ],
    )
