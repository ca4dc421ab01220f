"""Hidden checks for A3: the loss, the sparsity operators and the five training methods.

Operators are checked on hidden vectors drawn for each submission (exact in float32:
multiples of 1/16), each with the structure a wrong rule would get wrong: distinct
magnitudes with mixed signs, a tie straddling the selection's boundary, all magnitudes
equal, fewer nonzeros than k. Trajectories are checked step by step from the student's own
iterates, on the student's data and on hidden data whose selections are decided by a wide
margin (so float32 makes the grader's choice); trimmed L1 accepts either selection rule of
HOMEWORK A3.5 (by |v| after the gradient step, or by |W| before it), each applied to the
whole run.

Conventions accepted (from the problem text):
- vectors as (d,) or (d, 1), float32 or float64, numpy or torch, in place or not;
- loss_and_grad: L as a number (or an array holding one);
- project_top_k ("keep the k largest, at most k nonzero"): exactly min(k, d) entries kept,
  ties at the boundary broken any way; keeping every tied entry (more than k nonzeros)
  breaks the stated constraint and fails with a message that says so;
- soft_threshold: |v| = t gives 0 (both `>` and `>=` do);
- trimmed_soft_threshold ("only the n_trim smallest |v|"): exactly n_trim entries
  thresholded, ties broken any way; thresholding more or fewer entries breaks the stated
  constraint and fails with a message that says so;
- train_sparse: trimmed set by |v| or by |W|, consistently over a run.
"""

from __future__ import annotations

import numpy as np

from autograder.checking.compare import Mistake, assert_close, either, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.returns import Array, Number, Tuple
from autograder.checking.spec import Call, check
from autograder.checking.sub import Case, Sub
from autograder.checking.trajectory import check_trajectory, selections, tie_tol
from autograder.checking.verdict import CheckFailure
from effdl import sparse_opt as ref

RTOL, ATOL = 1e-5, 1e-6
MU = 0.02
SELECTION_GAP = 1e-4  # hidden runs: every selection by |v| decided by at least this much
PROBE_STEPS = 40


def _data(variant: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """The variant's A3 data: X (3, 5), y (3,), and its settings."""
    a3 = variant["a3"]
    return np.array(a3["X"], dtype=float), np.array(a3["y"], dtype=float), a3


def _run(call_id: str, X, y, method: str, **kwargs) -> Call:
    steps = int(kwargs.get("steps", 200))
    spec = Tuple(Array((steps + 1, X.shape[1])), Array((steps + 1,)), names=("W_hist", "L_hist"))
    return Call(f"a3.run.{call_id}", "train_sparse", (X, y, method), kwargs, returns=spec)


# --------------------------------------------------------------------------- hidden inputs
def _sixteenths(rng: np.random.Generator, size: int, low: int, high: int) -> np.ndarray:
    """Distinct magnitudes k/16 (low <= k < high) with random signs: exact in float32."""
    mags = rng.choice(np.arange(low, high), size=size, replace=False) / 16
    return mags * rng.choice([-1.0, 1.0], size=size)


def draw_topk_cases(seed: int) -> list[tuple[np.ndarray, int]]:
    """Hidden project_top_k inputs: distinct magnitudes (where the first k by index and the
    k largest signed values are wrong), a tie straddling the k-th place, all magnitudes
    equal, and fewer nonzeros than k."""
    rng = np.random.default_rng(seed)
    while True:
        w, k = _sixteenths(rng, 6, 1, 64), int(rng.integers(2, 4))
        keep = set(np.argsort(-np.abs(w))[:k])
        if keep != set(range(k)) and keep != set(np.argsort(w)[-k:]):
            break
    tie = np.array([3.0, 2.0, 2.0, 2.0, 0.5, 1.0]) * rng.choice([-1.0, 1.0], size=6) / 4
    tied = rng.permutation(tie), 2  # one sure entry, then 1 of the 3 tied at 0.5
    level = float(rng.integers(2, 16)) / 8
    equal = level * rng.choice([-1.0, 1.0], size=5), int(rng.integers(1, 5))
    sparse = np.zeros(6)
    sparse[rng.choice(6, size=2, replace=False)] = _sixteenths(rng, 2, 1, 32)
    return [(w, k), tied, equal, (sparse, 4)]


def draw_soft_cases(seed: int) -> list[tuple[np.ndarray, float]]:
    """Hidden soft_threshold inputs: entries above t of both signs, entries below t, one
    exactly at t."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        t = float(rng.integers(1, 5)) / 8
        big = (t + rng.integers(1, 24, size=3) / 16) * np.array([1.0, -1.0, rng.choice([-1, 1])])
        small = rng.integers(1, int(t * 16), size=2) / 16 * rng.choice([-1.0, 1.0], size=2)
        v = np.concatenate([big, small, [t * rng.choice([-1.0, 1.0])]])
        out.append((rng.permutation(v), t))
    return out


def draw_trim_cases(seed: int) -> list[tuple[np.ndarray, float, int]]:
    """Hidden trimmed_soft_threshold inputs: distinct magnitudes with n_trim != 3 (so that a
    fixed 3 is wrong) and large negative entries (so that a signed ranking is wrong), a tie
    straddling the n_trim-th place, all magnitudes equal, and a longer vector."""
    rng = np.random.default_rng(seed)
    while True:
        v, n = _sixteenths(rng, 5, 1, 64), int(rng.choice([1, 2, 4]))
        small = set(np.argsort(np.abs(v))[:n])
        if small != set(np.argsort(v)[:n]):
            break
    t = float(rng.integers(1, 4)) / 16
    tie = np.array([0.25, 0.25, 0.25, 1.0, 3.0]) * rng.choice([-1.0, 1.0], size=5)
    level = float(rng.integers(2, 16)) / 8
    equal = level * rng.choice([-1.0, 1.0], size=5)
    longer = _sixteenths(rng, 6, 1, 64)
    return [
        (v, t, n),
        (rng.permutation(tie), 0.125, 2),
        (equal, float(rng.integers(1, 4)) / 8, 3),
        (longer, 0.25, 4),
    ]


def draw_probe_data(seed: int, trimmed_t: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hidden data (X (3, 5), y (3,)) for step-by-step runs: integer entries in [-3, 3],
    stable for gradient descent at mu = 0.02 (largest eigenvalue of X^T X at most 40), and,
    for trimmed L1 at t = trimmed_t, a run whose every selection by |v| is decided by at
    least SELECTION_GAP (a float32 run then selects what the grader does)."""
    rng = np.random.default_rng(seed)
    while True:
        X = rng.integers(-3, 4, size=(3, 5)).astype(float)
        y = rng.integers(-6, 7, size=3).astype(float)
        if np.linalg.matrix_rank(X) < 3 or np.linalg.eigvalsh(X.T @ X).max() > 40:
            continue
        if not np.any(y):
            continue
        if trimmed_t is None or _decided(X, y, trimmed_t):
            return X, y


def _decided(X: np.ndarray, y: np.ndarray, t: float) -> bool:
    """Whether every selection by |v| of the reference trimmed run is decided by a margin."""
    W_hist, _ = ref.train_sparse(X, y, "trimmed", mu=MU, steps=PROBE_STEPS, threshold=t)
    W = W_hist[:-1]
    basis = np.sort(np.abs(W - MU * _grad(W, X, y)), axis=1)
    return bool(np.all(basis[:, 3] - basis[:, 2] >= SELECTION_GAP))


# --------------------------------------------------------------------------- operators
def loss_and_grad_calls(variant: dict, seed: int) -> list[Call]:
    X, y, _ = _data(variant)
    rng = np.random.default_rng(seed)
    PX, Py = draw_probe_data(seed)
    spec = Tuple(Number(), Array((5,)), names=("L", "grad"))
    W1, W2 = rng.integers(-4, 5, size=5) / 2, rng.integers(-4, 5, size=5) / 2
    return [
        Call("a3.lg.zero", "loss_and_grad", (np.zeros(5), X, y), returns=spec),
        Call("a3.lg.w", "loss_and_grad", (W1, X, y), returns=spec),
        Call("a3.lg.probe", "loss_and_grad", (W2, PX, Py), returns=spec),
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
        L, g = case.value
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
        if np.allclose(got, want, rtol=1e-6, atol=1e-9):
            return True
    return False


def _keep(v, chosen):
    out = np.zeros_like(v)
    out[chosen] = v[chosen]
    return out


def topk_calls(variant: dict, seed: int) -> list[Call]:
    return [
        Call(f"a3.topk.{i}", "project_top_k", (w, k), returns=Array((w.size,)))
        for i, (w, k) in enumerate(draw_topk_cases(seed))
    ]


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
        got = case.value
        sets = selections(np.abs(w), k, largest=True, tol=tie_tol(w))
        if _selection_ok(got, w, sets, _keep):
            continue
        what = f"project_top_k({fmt(w)}, k={k})"
        support = np.flatnonzero(got != 0)
        lines = [
            f"{what} returned {fmt(got)}; expected {fmt(ref.project_top_k(w, k))} "
            "(any choice among tied |W| is accepted)."
        ]
        boundary = np.sort(np.abs(w))[::-1][k - 1] if 0 < k <= w.size else np.inf
        ties_kept = np.where(np.abs(w) >= boundary - tie_tol(w), w, 0.0)
        if np.count_nonzero(ties_kept) > k and np.allclose(got, ties_kept, rtol=1e-6, atol=1e-9):
            lines.append(
                f"  {support.size} entries are nonzero, but at most k = {k} may be (every entry "
                f"tied at the k-th largest |W| was kept): when "
                "several |W| tie at the k-th place, keep only as many of them as k allows "
                "(any of them)."
            )
        elif np.allclose(got, _keep(w, list(range(k)))):
            lines.append(
                "  Likely cause: the first k entries by index were kept, not the k largest |W|."
            )
        elif np.allclose(got, _keep(w, list(np.argsort(w, kind="stable")[-k:]))):
            lines.append("  Likely cause: the largest signed values were kept; rank by |W|.")
        raise CheckFailure("\n".join(lines))


def soft_calls(variant: dict, seed: int) -> list[Call]:
    return [
        Call(f"a3.soft.{i}", "soft_threshold", (v, t), returns=Array((v.size,)))
        for i, (v, t) in enumerate(draw_soft_cases(seed))
    ]


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
            rtol=1e-6,
            atol=1e-9,
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


def trimmed_calls(variant: dict, seed: int) -> list[Call]:
    return [
        Call(
            f"a3.trim.{i}",
            "trimmed_soft_threshold",
            (v, t),
            {"n_trim": n},
            returns=Array((v.size,)),
        )
        for i, (v, t, n) in enumerate(draw_trim_cases(seed))
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
        got = case.value
        sets = selections(np.abs(v), n, largest=False, tol=tie_tol(v))
        if _selection_ok(got, v, sets, _trim(t)):
            continue
        changed = int(np.sum(~np.isclose(got, v, rtol=1e-6, atol=1e-9)))
        boundary = np.sort(np.abs(v))[n - 1] if 0 < n <= v.size else -np.inf
        tied = list(np.flatnonzero(np.abs(v) <= boundary + tie_tol(v)))
        ties_kept = len(tied) > n and np.allclose(got, _trim(t)(v, tied), rtol=1e-6, atol=1e-9)
        # Thresholding every tied entry breaks the stated constraint; on a tie it can equal
        # a wrong rule's result too ("always 3"), so it is told as the constraint, first.
        cause = "" if ties_kept else _trim_cause(got, v, t, n)
        lines = [
            f"{what} returned {fmt(got)}; expected {fmt(ref.trimmed_soft_threshold(v, t, n))} "
            "(any choice among tied |v| is accepted)."
        ]
        if cause:
            lines.append(f"  Likely cause: {cause}")
        elif ties_kept or (changed != n and _thresholded_smallest(got, v, t)):
            lines.append(
                f"  {changed} entries were thresholded, but exactly n_trim = {n} must be (the "
                "others are kept as they are): when several |v| tie at the n_trim-th place, "
                "threshold only as many of them as n_trim allows (any of them)."
            )
        raise CheckFailure("\n".join(lines))


def _trim_cause(got: np.ndarray, v: np.ndarray, t: float, n: int) -> str:
    """The catalogued wrong rule whose result on (v, t, n) is `got`, else ''."""
    wrong = (
        (
            ref.soft_threshold(v, t),
            "every entry was thresholded; only the n_trim smallest |v| should be.",
        ),
        (
            _trim(t)(v, list(np.argsort(v, kind="stable")[:n])),
            "the trimmed set was chosen by signed value; choose by |v|.",
        ),
        (
            _trim(t)(v, list(np.argsort(-np.abs(v), kind="stable")[:n])),
            "the LARGEST entries were thresholded; trimmed L1 spares the largest.",
        ),
    )
    causes = [cause for result, cause in wrong if np.allclose(got, result)]
    if causes:
        return either(causes)
    always_3 = _trim(t)(v, list(np.argsort(np.abs(v), kind="stable")[:3]))
    if n != 3 and np.allclose(got, always_3):
        return "n_trim was ignored (always 3)."
    return ""


def _thresholded_smallest(got: np.ndarray, v: np.ndarray, t: float) -> bool:
    """Whether got soft-thresholds some set of the smallest |v| and keeps the rest."""
    changed = ~np.isclose(got, v, rtol=1e-6, atol=1e-9)
    if not changed.any():
        return True  # nothing thresholded: the smallest set of all
    if not np.allclose(got[changed], ref.soft_threshold(v[changed], t)):
        return False
    return bool(np.abs(v[changed]).max() <= np.abs(v[~changed]).min(initial=np.inf) + 1e-12)


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


def _operator(W, v, method, lam, t):
    """What a method does with the gradient step v taken from W."""
    if method == "gd":
        return v
    if method == "prune":
        return ref.project_top_k(v, 2)
    if method == "l1":
        return v - MU * lam * np.sign(W)
    if method == "prox":
        return ref.soft_threshold(v, t)
    return ref.trimmed_soft_threshold(v, t, 3)


def _mistakes(X, y, mu, method, lam=None, t=None):
    """(cause, wrong step) pairs: each is named only when its step gives every student step
    from the first bad one to the end of the run."""
    out = [
        (
            "the gradient of a MEAN loss was used; L is a sum over the data points.",
            lambda W: [_operator(W, W - mu * _grad(W, X, y) / len(y), method, lam, t)],
        ),
        (
            "per-sample updates: full-batch gradient descent takes one step with the gradient "
            "of all points at once.",
            lambda W: [_operator(W, _per_sample(W, X, y, mu), method, lam, t)],
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
                "every |v| tied at the 3rd smallest was thresholded, more than 3 entries; "
                "exactly 3 are (any of the tied ones).",
                lambda W: [_ties_thresholded(W - mu * _grad(W, X, y), t)],
            ),
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
        if lam is not None:
            out.append(
                (
                    "the threshold was lambda instead of mu * lambda.",
                    lambda W: [ref.trimmed_soft_threshold(W - mu * _grad(W, X, y), t / mu, 3)],
                )
            )
    if method == "prune":
        out += [
            (
                "every |v| tied at the 2nd largest was kept, more than 2 nonzero entries; at "
                "most 2 may stay nonzero (any of the tied ones).",
                lambda W: [_ties_kept(W - mu * _grad(W, X, y))],
            ),
            (
                "the first 2 entries by index were kept, not the 2 largest |W|.",
                lambda W: [_keep(W - mu * _grad(W, X, y), [0, 1])],
            ),
            (
                "the 2 largest signed values were kept; rank by |v|.",
                lambda W: [
                    _keep(W - mu * _grad(W, X, y), list(np.argsort(W - mu * _grad(W, X, y))[-2:]))
                ],
            ),
        ]
    return out


def _ties_kept(v: np.ndarray, k: int = 2) -> np.ndarray:
    """Projection that keeps every entry tied at the k-th largest |v| (more than k)."""
    boundary = np.sort(np.abs(v))[::-1][k - 1]
    return np.where(np.abs(v) >= boundary - tie_tol(v), v, 0.0)


def _ties_thresholded(v: np.ndarray, t: float, n: int = 3) -> np.ndarray:
    """Trimmed step that thresholds every entry tied at the n-th smallest |v| (more than n)."""
    boundary = np.sort(np.abs(v))[n - 1]
    return _trim(t)(v, list(np.flatnonzero(np.abs(v) <= boundary + tie_tol(v))))


def _per_sample(W, X, y, mu):
    for i in range(len(y)):
        W = W - mu * 2.0 * X[i] * (X[i] @ W - y[i])
    return W


def _check_run(case: Case, label: str) -> np.ndarray:
    """One train_sparse run, step by step from the student's own iterates, and its recorded
    data losses; returns W_hist."""
    X, y, method = case.args
    kwargs = case.kwargs
    mu = MU
    lam = kwargs.get("lam")
    t = kwargs.get("threshold", None if lam is None else mu * lam)
    W_hist, L_hist = case.value
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
        W_hist, L_hist = case.value
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


def train_gd_calls(variant: dict, seed: int) -> list[Call]:
    X, y, _ = _data(variant)
    PX, Py = draw_probe_data(seed)
    return [_run("gd", X, y, "gd"), _run("probe_gd", PX, Py, "gd", steps=PROBE_STEPS)]


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
        [(own, ""), (probe, f" on hidden data, {PROBE_STEPS} steps")],
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


PROBE_TRIM_T = 0.05


def train_trimmed_calls(variant: dict, seed: int) -> list[Call]:
    X, y, a3 = _data(variant)
    runs = [_run(f"trimmed.{t:g}", X, y, "trimmed", threshold=t) for t in a3["trimmed_ts"]]
    PX, Py = draw_probe_data(seed, trimmed_t=PROBE_TRIM_T)
    probe = _run("probe_trim", PX, Py, "trimmed", threshold=PROBE_TRIM_T, steps=PROBE_STEPS)
    lam = a3["trimmed_ts"][0] / MU  # t = mu * lam: the sweep's first run, whose selections
    return [*runs, probe, _run("trimmed_lam", X, y, "trimmed", lam=lam)]  # the variant decided


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
    parts.append((sub.case("a3.run.probe_trim"), f" on hidden data, {PROBE_STEPS} steps"))
    lam_run = sub.case("a3.run.trimmed_lam")
    parts.append((lam_run, f" (t = mu * lam = {MU * lam_run.kwargs['lam']:g})"))
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
