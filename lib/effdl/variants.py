"""The numbers of each assignment: the canonical ones from the course, or one student's own.

A variant is a pure function of (course secret, student id, assignment). Without a secret or
a student id it is the canonical variant, exactly the course's published numbers. Otherwise
an HMAC-SHA256 of the student id under the secret seeds a numpy Generator that draws small
integer data for assignment A; each part is accepted only when simulating the reference
functions on it shows the lesson of the problem (see `_a2_problems`, `_a3_problems`,
`_a4_problems`), and a rejected draw is redrawn with the next attempt number in the seed.
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
from effdl.distributed import closed_form, train_distributed
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
SELECTION_GAP = 1e-6  # top-k and trimmed selections are decided by at least this much
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
    """The first lesson of A2 that the data (X, W*) fails to show, by simulation ([] if none)."""
    X, W_star = candidate
    y = X @ W_star
    lr, steps = A2_SETTINGS["lr"], A2_SETTINGS["steps"]
    if not np.allclose(closed_form(X, y), W_star, rtol=0, atol=1e-9):
        return ["the closed form differs from the drawn W*"]
    # The clipping runs most often fail, so they go first; small thresholds must NOT converge.
    for clip in (2, 5, 1, 10):
        W_hist, _ = train_distributed(X, y, lr=lr, steps=steps, clip=clip)
        final = np.linalg.norm(W_hist[-1] - W_star)
        if clip < A2_SETTINGS["tern_clip_T"] and final <= A2_NOT_CONVERGED:
            return [f"clipping at T={clip} still converges ({final:.2e} from W*)"]
        if clip >= A2_SETTINGS["tern_clip_T"] and final >= A2_CONVERGED:
            return [f"clipping at T={clip} does not converge ({final:.2e} from W*)"]
    W_hist, _ = train_distributed(X, y, lr=lr, steps=steps)
    distance = np.linalg.norm(W_hist - W_star, axis=1)
    if distance[-1] >= A2_CONVERGED:
        return [f"the plain run ends {distance[-1]:.2e} from W*"]
    if distance[5] <= A2_NOT_TRIVIAL * np.linalg.norm(W_star):
        return ["the plain run converges almost at once"]
    return []


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


def _selection_gaps(X: np.ndarray, y: np.ndarray, W_hist: np.ndarray, method: str) -> float:
    """Smallest margin by which the step's selection (top 2 / trimmed 3) was decided."""
    W = W_hist[:-1]
    v = W - A3_SETTINGS["mu"] * 2.0 * ((W @ X.T - y) @ X)
    if method == "prune":
        ordered = -np.sort(-np.abs(v), axis=1)
        k = A3_SETTINGS["k"]
        return float(np.min(ordered[:, k - 1] - ordered[:, k]))
    # W_0 = 0 ties every entry; the stable rule decides it in every variant alike.
    basis = np.abs(v) if method == "trimmed" else np.abs(W[1:])
    ordered = np.sort(basis, axis=1)
    n = A3_SETTINGS["n_trim"]
    return float(np.min(ordered[:, n] - ordered[:, n - 1]))


def _a3_problems(candidate: tuple[np.ndarray, np.ndarray]) -> list[str]:
    """The lessons of A3 that the data (X, truth) fails to show, by simulation."""
    X, truth = candidate
    y = X @ truth
    if _other_fits(X[None], y[None], truth[None])[0]:
        return ["the 2-sparse solution is not unique"]
    mu, steps = A3_SETTINGS["mu"], A3_SETTINGS["steps"]
    # Screen: projected GD that has not found the true support after 50 steps almost never
    # finds it later; this short run saves most of the cost of rejected draws.
    W_hist, _ = train_sparse(X, y, "prune", mu=mu, steps=50)
    if not np.array_equal(W_hist[-1] != 0, truth != 0):
        return ["prune has not found the true support after 50 steps"]
    # The runs that fail most often go first: trimmed L1 by |W| at the largest threshold,
    # then pruning; plain GD (dense exact fit) comes after them.
    ts = A3_SETTINGS["trimmed_ts"]
    runs = [("trimmed_w", ts[-1]), ("prune", None), ("gd", None), ("trimmed", ts[-1])]
    runs += [(method, t) for t in ts[-2::-1] for method in ("trimmed_w", "trimmed")]
    for method, t in runs:
        W_hist, L_hist = train_sparse(X, y, method, mu=mu, steps=steps, threshold=t)
        if method == "gd":
            if L_hist[-1] >= A3_GD_LOSS or np.min(np.abs(W_hist[-1])) < A3_GD_NONZERO:
                return ["plain GD does not end at a dense exact fit"]
            continue
        if np.linalg.norm(W_hist[-1] - truth) >= A3_REACHED:
            return [f"{method} (t={t}) misses the sparse truth"]
        if _selection_gaps(X, y, W_hist, method) < SELECTION_GAP:
            return [f"{method} (t={t}) has a near-tie in its selection"]
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
    v, _, _ = csc_encode(M, A4_SETTINGS["index_bits"])
    problems = []
    if np.count_nonzero(v == 0) < A4_MIN_PLACEHOLDERS:
        problems.append("too few placeholders")
    if np.min(np.count_nonzero(M, axis=0)) > 1:
        problems.append("no empty or single-entry column")
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
