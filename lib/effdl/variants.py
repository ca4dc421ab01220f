"""The numbers of each assignment: the canonical ones from the course, or one student's own.

A variant is a pure function of (course secret, student id, assignment). Without a secret or
a student id it is the canonical variant, exactly the course's published numbers. Otherwise
an HMAC-SHA256 of the student id under the secret seeds a numpy Generator that draws small
integer data for assignment A; each part is accepted only when simulating the reference
functions on it shows the lesson of the problem (see `_a2_problems`, `_a3_problems`,
`_a4_problems`, which list every rule and why the grader needs it), and a rejected draw is
redrawn with the next attempt number in the seed. Cheap algebraic rules run before the
simulations. The grader's fixed probe inputs (other matrices, vectors and data) are not part
of a variant and are not checked here.
The id of a variant is a prefix of the HMAC, so it identifies the numbers without revealing
the secret.

Reproducibility: the draws use numpy's Generator (PCG64) methods `integers`, `choice` and
`random`. NumPy fixes the bit streams of its bit generators, but it does not promise that
these methods turn them into the same numbers in every future release (they have not changed
since numpy 1.17). A build should therefore store each student's variant (and key) rather
than regenerate it with a different numpy at grading time.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from effdl.csc import csc_encode, csc_max_K
from effdl.distributed import clip_gradient, closed_form, terngrad, train_distributed
from effdl.sparse_opt import train_sparse

DISTRIBUTED_SPARSE = "distributed-sparse"
PRUNE_QUANTIZE = "prune-quantize"
CANONICAL = "canonical"

# Canonical data of assignment A (HOMEWORK A2, A3, A4.1).
_A2_X = ((-1, 2, 0), (3, 0, 1), (2, -1, 3))
_A2_W_STAR = (1, -3, 2)
_A3_X = ((1, -2, -1, -1, 1), (2, -1, 2, 0, -2), (-1, 0, 2, 2, 1))
_A3_TRUTH = (0, -3, 0, 0, 1)
# A4.1: the position (row, col) of w0, w1, ...; the value of w_k is k + 1.
_A4_POSITIONS = (
    (1, 0), (5, 0), (2, 1), (4, 1), (7, 1), (5, 2), (0, 3),
    (5, 3), (7, 4), (2, 4), (6, 5), (4, 7), (5, 7),
)  # fmt: skip
_A4_FORMULA_MN = ((4, 4), (8, 8), (10, 6))

# Settings shared by every variant.
A2_SETTINGS = {"lr": 0.1, "steps": 50, "clip_T": [1, 2, 5, 10], "tern_clip_T": 5}
A3_SETTINGS = {
    "mu": 0.02,
    "steps": 200,
    "k": 2,
    "l1_lams": [0.2, 0.5, 1.0, 2.0],
    "prox_ts": [0.004, 0.01, 0.02, 0.04],
    "trimmed_ts": [0.02, 0.04, 0.1, 0.2],
    "n_trim": 3,
}
A4_SETTINGS = {"index_bits": 2, "value_bits": 8}

# What a per-student draw must show (checked by simulation). The canonical A2 data is older
# than these rules and looser: its plain run ends 5.4e-5 from W* and T=5 ends 1.1e-3 away.
A2_CONVERGED = 1e-6  # plain, T=5 and T=10 end this close to W* (Euclidean distance)
A2_NOT_CONVERGED = 0.1  # T=1 and T=2 end farther than this from W*
A2_NOT_TRIVIAL = 1e-2  # after 5 plain steps still farther than this times |W*| from W*
A3_REACHED = 1e-3  # prune and trimmed L1 end this close to the sparse truth
A3_GD_NONZERO = 0.05  # every entry of the plain-GD result is at least this far from 0
A3_GD_LOSS = 1e-8  # plain GD fits the data: final loss below this
# The graded TernGrad runs (A2.3 without clipping, A2.5 clipped at tern_clip_T with s = T):
# 100 seeded runs of 12 steps each, failed when all end with the same loss and otherwise
# compared with reference runs by a KS test on log10 of the final loss.
A2_TERN_STEPS = 12
A2_TERN_RUNS = 400  # seeded runs simulated per configuration to judge the spread
A2_TERN_SEED = 20_240_917  # fixed: the verdict on a candidate never depends on anything else
A2_TERN_MODE = 0.5  # the most common final loss ends at most this fraction of the runs
A2_TERN_FLOOR = 1e-10  # a final loss this small is float32 rounding in a student's run ...
A2_TERN_FLOOR_RUNS = 0.01  # ... and may end at most this fraction of the runs
A2_SURE = 1e-12  # a keep-probability within this of 0 or 1 is certain
# Selections (top 2 by |v|, trimmed 3 by |v|) are decided by at least this much: a float32
# student's v differs from the grader's float64 v by up to ~2e-7 on these sizes, and the
# grader accepts a different choice only within 1e-9. By |W| the student and the grader rank
# the same numbers, so that rule only keeps the path away from ties.
SELECTION_GAP = 1e-4
SELECTION_GAP_W = 1e-6
SELECTION_NEGLIGIBLE = 1e-7  # contested entries of v this small change no step beyond ATOL
# A3.6 (extra credit) reruns prune and trimmed L1 (t = 0.04) on the first 2 data points.
A3_EXTRA_POINTS = 2
A3_EXTRA_TRIMMED_T = 0.04
A4_NONZEROS = (10, 16)
A4_MIN_PLACEHOLDERS = 2
_A2_W_VALUES = (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)
_A3_TRUTH_VALUES = (-3, -2, -1, 1, 2, 3)
_MAX_ATTEMPTS = 10_000
_BATCH = 32  # candidates drawn at once for the cheap algebraic pre-filters


def _check_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _digest(secret: str, student_id: str, assignment: str) -> bytes:
    """HMAC-SHA256 of (assignment, student id) under the course secret."""
    message = f"{assignment}\n{student_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def variant_id(
    secret: str | None, student_id: str | None, assignment: str = DISTRIBUTED_SPARSE
) -> str:
    """ "canonical" when secret or student_id is None, else 12 hex digits of the HMAC-SHA256
    of the assignment name and student id under the secret (stable, and it hides the secret).
    """
    if secret is None or student_id is None:
        return CANONICAL
    _check_text(secret, "secret")
    _check_text(student_id, "student_id")
    _check_text(assignment, "assignment")
    return _digest(secret, student_id, assignment)[:6].hex()


def _accept_first(
    seed: int,
    part: int,
    draw: Callable[[np.random.Generator], Any],
    problems: Callable[[Any], list[str]],
) -> Any:
    """Draw with a generator seeded by (seed, part, attempt) until the simulation finds no
    problem with the candidate; attempt counts 0, 1, 2, ..."""
    for attempt in range(_MAX_ATTEMPTS):
        candidate = draw(np.random.default_rng([seed, part, attempt]))
        if not problems(candidate):
            return candidate
    raise RuntimeError(f"no acceptable draw for part {part} in {_MAX_ATTEMPTS} attempts")


# ---------------------------------------------------------------- A2: parameter-server SGD
def _draw_a2(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The first of a stream of candidates (X, W*) that passes cheap algebraic filters (the
    simulation in `_a2_problems` decides). Plain PS-SGD from 0 is linear in the error:
    W_k - W* = (I - (2 lr / n) X^T X)^k (-W*), so its distances after 5 and 50 steps are
    known in advance and must be > 1% of |W*| and < A2_CONVERGED. Also: X is invertible;
    the slowest factor |1 - (2 lr / n) lambda| over the eigenvalues of X^T X is at most 0.6,
    and |W*| >= 5, which makes small clipping thresholds visibly slow (with smaller W* or
    slower plain runs the T=2 run mostly converges too and the draw is rejected)."""
    lr, n = A2_SETTINGS["lr"], 3
    while True:
        X = rng.integers(-3, 4, size=(_BATCH, n, n))
        W_star = rng.choice(_A2_W_VALUES, size=(_BATCH, n)).astype(np.float64)
        gram = np.transpose(X, (0, 2, 1)) @ X
        step = np.eye(n) - (2 * lr / n) * gram
        step5 = np.linalg.matrix_power(step, 5)
        step50 = np.linalg.matrix_power(step5, 10)
        after5 = np.linalg.norm(step5 @ W_star[:, :, None], axis=(1, 2))
        after50 = np.linalg.norm(step50 @ W_star[:, :, None], axis=(1, 2))
        norm = np.linalg.norm(W_star, axis=1)
        slowest = np.abs(np.linalg.eigvalsh(step)).max(axis=1)
        ok = (np.abs(np.round(np.linalg.det(X))) >= 1) & (slowest <= 0.6) & (norm >= 5)
        ok &= (after5 > A2_NOT_TRIVIAL * norm) & (after50 < A2_CONVERGED)
        if ok.any():
            i = int(np.argmax(ok))
            return X[i], W_star[i].astype(np.int64)


def _a2_problems(candidate: tuple[np.ndarray, np.ndarray]) -> list[str]:
    """The first lesson of A2 that the data (X, W*) fails to show ([] if none). The rules, in
    the order they are checked (algebra before simulation, frequent failures first):

    A2.1  the closed form gives the drawn integer W*.
    A2.3  TernGrad with each worker's own s = max |g| is random: some worker's keep-
          probability |X_ij| / max_j |X_ij| lies strictly between 0 and 1 (algebra; else
          every run is the same), and simulated runs spread (see `_tern_spread_problem`).
    A2.4  clipping at T = 1, 2 ends farther than A2_NOT_CONVERGED from W*; T = 5, 10 end
          within A2_CONVERGED (simulated, 50 steps).
    A2.2  the plain run ends within A2_CONVERGED of W*, but not almost at once.
    A2.5  clipping at T = tern_clip_T, then TernGrad with s = T, is random within the 12
          graded steps: while every keep-probability min(|g_j|, T) / T is 0 or 1 the run is
          exactly the clipped run, so some W_k (k < 12) of the clipped run must have a keep-
          probability strictly between; then the simulated runs must spread.
    """
    X, W_star = candidate
    y = X @ W_star
    lr, steps, T_tern = A2_SETTINGS["lr"], A2_SETTINGS["steps"], A2_SETTINGS["tern_clip_T"]
    if not np.allclose(closed_form(X, y), W_star, rtol=0, atol=1e-9):
        return ["A2.1: the closed form differs from the drawn W*"]
    row_max = np.abs(X).max(axis=1, keepdims=True)
    if not np.any((X != 0) & (np.abs(X) < row_max)):
        return ["A2.3: TernGrad with s = max|g| is deterministic: every keep-probability is 0 or 1"]
    # The clipping runs most often fail, so they go first; small thresholds must NOT converge.
    clipped = {}
    for clip in (2, 5, 1, 10):
        W_hist, _ = train_distributed(X, y, lr=lr, steps=steps, clip=clip)
        clipped[clip] = W_hist
        final = np.linalg.norm(W_hist[-1] - W_star)
        if clip < T_tern and final <= A2_NOT_CONVERGED:
            return [f"A2.4: clipping at T={clip} still converges ({final:.2e} from W*)"]
        if clip >= T_tern and final >= A2_CONVERGED:
            return [f"A2.4: clipping at T={clip} does not converge ({final:.2e} from W*)"]
    W_hist, _ = train_distributed(X, y, lr=lr, steps=steps)
    distance = np.linalg.norm(W_hist - W_star, axis=1)
    if distance[-1] >= A2_CONVERGED:
        return [f"A2.2: the plain run ends {distance[-1]:.2e} from W*"]
    if distance[5] <= A2_NOT_TRIVIAL * np.linalg.norm(W_star):
        return ["A2.2: the plain run converges almost at once"]
    W_clip = clipped.get(T_tern)
    if W_clip is None:
        W_clip, _ = train_distributed(X, y, lr=lr, steps=A2_TERN_STEPS, clip=T_tern)
    p = _keep_probabilities(W_clip[:A2_TERN_STEPS], X, y, T_tern, T_tern)
    if not np.any((p > A2_SURE) & (p < 1 - A2_SURE)):
        return [
            f"A2.5: clipping at T={T_tern} then TernGrad with s=T is deterministic in the "
            f"{A2_TERN_STEPS} graded steps: every clipped |g_j| is 0 or T, so every keep-"
            "probability is 0 or 1 and all seeded runs end with the same loss"
        ]
    rng = np.random.default_rng(A2_TERN_SEED)
    for label, clip, scaler in (
        ("A2.3: TernGrad with s = max|g|", None, None),
        (f"A2.5: clipping at T={T_tern} then TernGrad with s=T", T_tern, T_tern),
    ):
        problem = _tern_spread_problem(_tern_final_losses(X, y, clip, scaler, rng))
        if problem:
            return [f"{label}: {problem}"]
    return []


def _keep_probabilities(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, clip: float | None, scaler: float | None
) -> np.ndarray:
    """TernGrad's keep-probability min(|g_ij| / s_i, 1) of every worker i and entry j at every
    row of W ((..., d) -> (..., n, d)); g_i is worker i's gradient, clipped into [-clip, clip]
    if clip is given; s_i = scaler, or max_j |g_ij| when scaler is None (0 where s_i = 0)."""
    G = _worker_gradients(W, X, y, clip)
    s = np.abs(G).max(axis=-1, keepdims=True) if scaler is None else np.full_like(G, scaler)
    out = np.zeros_like(G)
    np.divide(np.abs(G), s, out=out, where=s > 0)
    return np.minimum(out, 1.0)


def _worker_gradients(
    W: np.ndarray, X: np.ndarray, y: np.ndarray, clip: float | None
) -> np.ndarray:
    """Every worker's gradient 2 x_i (x_i . W - y_i) at every row of W, (..., d) -> (..., n, d),
    clipped with the reference `clip_gradient` when clip is given."""
    G = 2.0 * (W @ X.T - y)[..., None] * X
    return G if clip is None else clip_gradient(G.ravel(), clip).reshape(G.shape)


def _tern_final_losses(
    X: np.ndarray,
    y: np.ndarray,
    clip: float | None,
    scaler: float | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Final total loss of A2_TERN_RUNS TernGrad runs of A2_TERN_STEPS steps from W = 0, all
    run at once. Each worker's gradient is ternarized by the reference `terngrad`: with its own
    s = max|g| by ternarizing g / s with s = 1 and scaling back (the same law), otherwise with
    s = scaler for every entry at once."""
    X, y = X.astype(np.float64), y.astype(np.float64)
    W = np.zeros((A2_TERN_RUNS, X.shape[1]))
    for _ in range(A2_TERN_STEPS):
        G = _worker_gradients(W, X, y, clip)
        if scaler is None:
            s = np.abs(G).max(axis=-1, keepdims=True)
            unit = np.zeros_like(G)
            np.divide(G, s, out=unit, where=s > 0)
            sent = s * terngrad(unit.ravel(), 1.0, rng).reshape(G.shape)
        else:
            sent = terngrad(G.ravel(), scaler, rng).reshape(G.shape)
        W = W - A2_SETTINGS["lr"] * sent.mean(axis=1)
    return np.sum((W @ X.T - y) ** 2, axis=1)


def _tern_spread_problem(finals: np.ndarray) -> str:
    """Why these simulated final losses would make the graded TernGrad runs unreliable, or "".

    The grader fails 100 runs that all end with the same loss; if the most common final loss
    has probability q, a correct submission fails so with probability at most q^99, so q must
    stay well below 1 (A2_TERN_MODE on the simulation keeps q^99 below 1e-9). A final loss
    under A2_TERN_FLOOR is rounding noise in a float32 run, whose log10 then differs from the
    reference's; such runs would move the KS distance, so they must be rare.
    """
    ordered = np.sort(finals)
    breaks = np.flatnonzero(np.diff(ordered) > 1e-9 * np.abs(ordered[1:]))
    sizes = np.diff(np.concatenate([[0], breaks + 1, [ordered.size]]))
    mode = sizes.max() / ordered.size
    if mode > A2_TERN_MODE:
        return (
            f"{mode:.0%} of {ordered.size} seeded runs end with the same loss: the runs are "
            "not random enough"
        )
    floor = np.mean(finals < A2_TERN_FLOOR)
    if floor > A2_TERN_FLOOR_RUNS:
        return (
            f"{floor:.1%} of the seeded runs end below loss {A2_TERN_FLOOR:g}, where float32 "
            "rounding decides log10 of the loss"
        )
    return ""


# ---------------------------------------------------------------- A3: sparse optimization
def _draw_a3(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The first of a stream of candidates (X, truth) that passes cheap algebraic filters (the
    simulation in `_a3_problems` decides): X has rank 3; no other support of at most 2
    columns fits; plain GD, which shrinks the error by |1 - 2 mu lambda| per step along each
    eigenvector of X X^T, converges well within 200 steps; and the minimum-norm solution it
    tends to is dense."""
    while True:
        X = rng.integers(-2, 3, size=(_BATCH, 3, 5))
        support = np.argsort(rng.random((_BATCH, 5)), axis=1)[:, :2]
        truth = np.zeros((_BATCH, 5), dtype=np.int64)
        truth[np.arange(_BATCH)[:, None], support] = rng.choice(_A3_TRUTH_VALUES, size=(_BATCH, 2))
        y = np.einsum("bij,bj->bi", X, truth)
        gram = X @ np.transpose(X, (0, 2, 1))
        ok = np.round(np.linalg.det(gram)) >= 1
        if not ok.any():
            continue
        X, y, truth, gram = X[ok], y[ok], truth[ok], gram[ok]
        slowest = np.abs(1 - 2 * A3_SETTINGS["mu"] * np.linalg.eigvalsh(gram)).max(axis=1)
        min_norm = np.einsum("bji,bj->bi", X, np.linalg.solve(gram, y[:, :, None])[:, :, 0])
        ok = (slowest <= 0.93) & (np.abs(min_norm).min(axis=1) >= A3_GD_NONZERO)
        if not ok.any():
            continue
        X, y, truth = X[ok], y[ok], truth[ok]
        ok = ~_other_fits(X, y, truth)
        if ok.any():
            i = int(np.argmax(ok))
            return X[i], truth[i]


def _other_fits(X: np.ndarray, y: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For a batch of integer data (X: (B, 3, 5), y: (B, 3), truth: (B, 5) with 2 nonzeros),
    whether some support of at most 2 columns other than the truth's also solves X W = y, or
    the truth's own columns are dependent. Exact in integer arithmetic: a column x fits alone
    iff x x y = 0 (cross product) and x != 0; two independent columns fit iff
    det[x_a, x_b, y] = 0; a dependent pair fits iff one of its columns does."""
    cols = np.transpose(X, (0, 2, 1))  # (B, 5, 3)
    single = np.all(np.cross(cols, y[:, None, :]) == 0, axis=2) & np.any(cols != 0, axis=2)
    single |= np.all(y == 0, axis=1)[:, None]
    a, b = np.array(list(itertools.combinations(range(X.shape[2]), 2))).T  # the 10 pairs
    independent = np.any(np.cross(cols[:, a], cols[:, b]) != 0, axis=2)  # (B, 10)
    ys = np.broadcast_to(y[:, None, :], independent.shape + (3,))
    det = np.round(np.linalg.det(np.stack([cols[:, a], cols[:, b], ys], axis=2)))
    fits = (independent & (det == 0)) | single[:, a] | single[:, b]
    is_truth = (truth[:, a] != 0) & (truth[:, b] != 0)
    return np.any(single, axis=1) | np.any(np.where(is_truth, ~independent, fits), axis=1)


def _selection_margins(
    X: np.ndarray, y: np.ndarray, W_hist: np.ndarray, method: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every step of a run: (v, basis, low, high), where v is the gradient step taken
    from W_k, basis what the selection ranks (|v|, or |W_k| for "trimmed_w") and [low, high]
    the two basis values either side of the selection's boundary (kept 2 vs the rest for
    "prune"; the 3 trimmed vs the rest otherwise), so high - low is the step's margin."""
    W = W_hist[:-1]
    v = W - A3_SETTINGS["mu"] * 2.0 * ((W @ X.T - y) @ X)
    basis = np.abs(W) if method == "trimmed_w" else np.abs(v)
    ordered = np.sort(basis, axis=1)
    # prune keeps the k largest: its boundary has d - k entries below it; trimmed has n_trim
    below = X.shape[1] - A3_SETTINGS["k"] if method == "prune" else A3_SETTINGS["n_trim"]
    return v, basis, ordered[:, below - 1], ordered[:, below]


def _selection_gaps(X: np.ndarray, y: np.ndarray, W_hist: np.ndarray, method: str) -> float:
    """Smallest margin by which the step's selection (top 2 / trimmed 3) was decided."""
    _, _, low, high = _selection_margins(X, y, W_hist, method)
    margin = high - low
    # W_0 = 0 ties every entry by |W|; the stable rule decides it in every variant alike.
    return float(np.min(margin[1:] if method == "trimmed_w" else margin))


def _harmful_near_tie(X: np.ndarray, y: np.ndarray, W_hist: np.ndarray, method: str) -> int:
    """The first step (-1 if none) of a selection by |v| that a float32 student could make
    differently from the grader, for runs on data with 2 points (A3.6). A margin below
    SELECTION_GAP is harmless when every contested entry of v is below SELECTION_NEGLIGIBLE
    (any choice gives the same step within the grader's tolerance), or when it is an exact
    tie of a mirror pair: columns a, b of X equal up to a sign s, with W_a = s W_b now and
    either both 0 or so at every step before. The student then computes the same exact tie
    (a sum of 2 terms does not depend on their order), the grader accepts either choice, and
    the other choice leads to the mirror image of the same path.
    """
    v, basis, low, high = _selection_margins(X, y, W_hist, method)
    W = W_hist[:-1]

    def mirrored(k: int, a: int, b: int) -> bool:
        return any(
            np.array_equal(X[:, a], sign * X[:, b])
            and W[k, a] == sign * W[k, b]
            and (W[k, a] == 0 or np.array_equal(W[: k + 1, a], sign * W[: k + 1, b]))
            for sign in (1, -1)
        )

    for k in np.flatnonzero(high - low < SELECTION_GAP):
        near = (basis[k] >= low[k] - SELECTION_GAP) & (basis[k] <= high[k] + SELECTION_GAP)
        contested = np.flatnonzero(near)
        if np.all(np.abs(v[k, contested]) <= SELECTION_NEGLIGIBLE):
            continue
        if np.all(basis[k, contested] == high[k]) and all(
            mirrored(k, a, b) for a, b in itertools.combinations(contested, 2)
        ):
            continue
        return int(k)
    return -1


def _a3_problems(candidate: tuple[np.ndarray, np.ndarray]) -> list[str]:
    """The first lesson of A3 that the data (X, truth) fails to show ([] if none). The rules,
    in the order they are checked:

    A3.2, A3.5  the 2-sparse solution is unique (exact integer algebra, `_other_fits`).
    A3.2  projected GD reaches the truth (a 50-step screen, then the full 200 steps).
    A3.6  in the extra-credit runs on the first A3_EXTRA_POINTS points (prune, and trimmed
          L1 by |v| at t = A3_EXTRA_TRIMMED_T), no selection is a harmful near-tie
          (`_harmful_near_tie`): those runs are graded step by step too.
    A3.1  plain GD ends at a dense exact fit (loss below A3_GD_LOSS, every entry at least
          A3_GD_NONZERO from 0).
    A3.2, A3.5  prune and trimmed L1 (by |v| and by |W|, every t) end within A3_REACHED of
          the truth, and every selection is decided by SELECTION_GAP (by |v|) or
          SELECTION_GAP_W (by |W|, after the tie of W_0 = 0): a float32 student then makes
          the grader's choice.
    """
    X, truth = candidate
    y = X @ truth
    if _other_fits(X[None], y[None], truth[None])[0]:
        return ["A3.2: the 2-sparse solution is not unique"]
    mu, steps = A3_SETTINGS["mu"], A3_SETTINGS["steps"]
    # Screen: projected GD that has not found the true support after 50 steps almost never
    # finds it later; this short run saves most of the cost of rejected draws.
    W_hist, _ = train_sparse(X, y, "prune", mu=mu, steps=50)
    if not np.array_equal(W_hist[-1] != 0, truth != 0):
        return ["A3.2: prune has not found the true support after 50 steps"]
    few_X, few_y = X[:A3_EXTRA_POINTS], y[:A3_EXTRA_POINTS]
    for method, t in (("prune", None), ("trimmed", A3_EXTRA_TRIMMED_T)):
        W_hist, _ = train_sparse(few_X, few_y, method, mu=mu, steps=steps, threshold=t)
        k = _harmful_near_tie(few_X, few_y, W_hist, method)
        if k >= 0:
            return [
                f"A3.6: {method} (t={t}) on {A3_EXTRA_POINTS} points has a near-tie at step {k + 1}"
            ]
    # The runs that fail most often go first: trimmed L1 by |W| at the largest threshold,
    # then pruning; plain GD (dense exact fit) comes after them.
    ts = A3_SETTINGS["trimmed_ts"]
    runs = [("trimmed_w", ts[-1]), ("prune", None), ("gd", None), ("trimmed", ts[-1])]
    runs += [(method, t) for t in ts[-2::-1] for method in ("trimmed_w", "trimmed")]
    for method, t in runs:
        W_hist, L_hist = train_sparse(X, y, method, mu=mu, steps=steps, threshold=t)
        problem = "A3.1" if method == "gd" else "A3.2" if method == "prune" else "A3.5"
        if method == "gd":
            if L_hist[-1] >= A3_GD_LOSS or np.min(np.abs(W_hist[-1])) < A3_GD_NONZERO:
                return ["A3.1: plain GD does not end at a dense exact fit"]
            continue
        if np.linalg.norm(W_hist[-1] - truth) >= A3_REACHED:
            return [f"{problem}: {method} (t={t}) misses the sparse truth"]
        gap = SELECTION_GAP_W if method == "trimmed_w" else SELECTION_GAP
        if _selection_gaps(X, y, W_hist, method) < gap:
            return [f"{problem}: {method} (t={t}) has a near-tie in its selection"]
    return []


# ---------------------------------------------------------------- A4: CSC encoding
def _draw_a4(rng: np.random.Generator) -> np.ndarray:
    """An 8x8 matrix whose nonzeros are 1..K, numbered column by column (one column
    reversed, as in the canonical matrix, so that label order is not row order)."""
    K = int(rng.integers(A4_NONZEROS[0], A4_NONZEROS[1] + 1))
    cells = np.sort(rng.choice(64, size=K, replace=False))
    rows, cols = cells % 8, cells // 8  # sorted cells: column by column, top to bottom
    crowded = np.flatnonzero(np.bincount(cols, minlength=8) >= 2)
    order = np.arange(K)
    if len(crowded):
        in_col = np.flatnonzero(cols == rng.choice(crowded))
        order[in_col] = order[in_col[::-1]]
    M = np.zeros((8, 8), dtype=np.int64)
    M[rows[order], cols[order]] = np.arange(1, K + 1)
    return M


def _a4_problems(M: np.ndarray) -> list[str]:
    """The lessons of A4.1 that the matrix fails to show. The rules: at least
    A4_MIN_PLACEHOLDERS placeholders (runs of more than 2^b - 1 zeros before a nonzero, so
    that leaving them out, or starting them one zero late, gives other arrays); an empty or
    single-entry column; a column that ends in at least 2^b zeros (an empty one counts), so
    that storing placeholders for trailing zeros gives other arrays. With at least 10
    nonzeros in 8 columns some column holds two, so absolute row indices differ from z."""
    bits = A4_SETTINGS["index_bits"]
    v, _, _ = csc_encode(M, bits)
    problems = []
    if np.count_nonzero(v == 0) < A4_MIN_PLACEHOLDERS:
        problems.append("A4.1: too few placeholders")
    if np.min(np.count_nonzero(M, axis=0)) > 1:
        problems.append("A4.1: no empty or single-entry column")
    rows = np.arange(1, M.shape[0] + 1)[:, None]
    last = np.max(np.where(M != 0, rows, 0), axis=0)  # 1 + row of the last nonzero, 0 if none
    if np.max(M.shape[0] - last) < 2**bits:
        problems.append(f"A4.1: no column ends in {2**bits} or more zeros")
    return problems


def _draw_formula_mn(rng: np.random.Generator) -> list[list[int]]:
    pairs: list[list[int]] = []
    while len(pairs) < 3:
        pair = [int(rng.integers(4, 13)), int(rng.integers(2, 11))]
        if pair not in pairs and min(csc_max_K(*pair), csc_max_K(*pair, False)) >= 1:
            pairs.append(pair)
    return pairs


def _labels(M: np.ndarray) -> dict[str, list[int]]:
    """{"w0": [row, col], ...}: the nonzero with value k + 1 is w_k."""
    rows, cols = np.nonzero(M)
    by_value = sorted(zip(M[rows, cols].tolist(), rows.tolist(), cols.tolist()))
    return {f"w{value - 1}": [r, c] for value, r, c in by_value}


def _assemble(
    vid: str,
    a2_X: np.ndarray,
    W_star: np.ndarray,
    a3_X: np.ndarray,
    truth: np.ndarray,
    M: np.ndarray,
    formula_mn: list[list[int]],
) -> dict:
    a2_X, W_star = np.asarray(a2_X), np.asarray(W_star)
    a3_X, truth, M = np.asarray(a3_X), np.asarray(truth), np.asarray(M)
    return {
        "assignment": DISTRIBUTED_SPARSE,
        "variant": vid,
        "a2": {
            "X": a2_X.tolist(),
            "y": (a2_X @ W_star).tolist(),
            **A2_SETTINGS,
            "clip_T": list(A2_SETTINGS["clip_T"]),
            "W_star": W_star.tolist(),
        },
        "a3": {
            "X": a3_X.tolist(),
            "y": (a3_X @ truth).tolist(),
            **A3_SETTINGS,
            "l1_lams": list(A3_SETTINGS["l1_lams"]),
            "prox_ts": list(A3_SETTINGS["prox_ts"]),
            "trimmed_ts": list(A3_SETTINGS["trimmed_ts"]),
            "truth": truth.tolist(),
        },
        "a4": {
            "matrix": M.tolist(),
            "labels": _labels(M),
            **A4_SETTINGS,
            "formula_MN": [list(pair) for pair in formula_mn],
        },
    }


def distributed_sparse_variant(secret: str | None = None, student_id: str | None = None) -> dict:
    """Assignment A's numbers for one student (or the canonical ones), as plain JSON data.

    Keys: "assignment", "variant" (the id), "a2" (X, y, lr, steps, clip_T, tern_clip_T,
    W_star), "a3" (X, y, mu, steps, k, l1_lams, prox_ts, trimmed_ts, n_trim, truth) and "a4"
    (matrix, labels {"w0": [row, col], ...}, index_bits, value_bits, formula_MN).
    """
    vid = variant_id(secret, student_id, DISTRIBUTED_SPARSE)
    if vid == CANONICAL:
        M = np.zeros((8, 8), dtype=np.int64)
        for k, (r, c) in enumerate(_A4_POSITIONS):
            M[r, c] = k + 1
        return _assemble(
            vid, np.array(_A2_X), np.array(_A2_W_STAR), np.array(_A3_X), np.array(_A3_TRUTH),
            M, [list(pair) for pair in _A4_FORMULA_MN],
        )  # fmt: skip
    seed = int.from_bytes(_digest(secret, student_id, DISTRIBUTED_SPARSE), "big")
    a2_X, W_star = _accept_first(seed, 2, _draw_a2, _a2_problems)
    a3_X, truth = _accept_first(seed, 3, _draw_a3, _a3_problems)
    M = _accept_first(seed, 4, _draw_a4, _a4_problems)
    formula_mn = _draw_formula_mn(np.random.default_rng([seed, 5]))
    return _assemble(vid, a2_X, W_star, a3_X, truth, M, formula_mn)


def prune_quantize_variant(secret: str | None = None, student_id: str | None = None) -> dict:
    """Assignment B's settings for one student (or the canonical ones), as plain JSON data.

    Keys: "assignment", "variant", "prune_qs" (per-layer pruning percentages), "final_q",
    "nbits" (bit widths without finetuning), "qat_bits" (bit widths for QAT) and "seed".
    """
    vid = variant_id(secret, student_id, PRUNE_QUANTIZE)
    options = ([30, 50, 70], [40, 60, 80], [35, 55, 75])
    if vid == CANONICAL:
        prune_qs, seed = options[0], 0
    else:
        digest = _digest(secret, student_id, PRUNE_QUANTIZE)
        rng = np.random.default_rng(int.from_bytes(digest, "big"))
        prune_qs = options[int(rng.integers(len(options)))]
        seed = int(rng.integers(2**31 - 1))
    return {
        "assignment": PRUNE_QUANTIZE,
        "variant": vid,
        "prune_qs": list(prune_qs),
        "final_q": 80,
        "nbits": [6, 5, 4, 3, 2],
        "qat_bits": [4, 3, 2],
        "seed": seed,
    }
