"""Step-by-step checks of optimization trajectories, and tie-tolerant selections.

A trajectory is checked one step at a time from the student's own previous iterate: step k
is right when W[k+1] is what the algorithm gives from W[k]. Rounding differences (float32,
another summation order) therefore never accumulate into a false fail, and the feedback
names the first step that leaves the tolerance. Where the algorithm chooses among tied
entries (top-k, the trimmed set), every valid choice is accepted.

A check may also give a batch step: one acceptable next iterate for every row at once
(shape (K, d) in, (K, d) out). Rows it matches pass without the per-row step; the others
(a wrong step, or a different tie choice) go through the per-row step, so the batch step
only has to return one of the candidates the per-row step would accept.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from autograder.checking.compare import close_mask, fmt
from autograder.checking.verdict import CheckFailure

# A step gives the acceptable next iterates from the current one (several when tied).
Step = Callable[[np.ndarray], list[np.ndarray]]
# A batch step gives one acceptable next iterate for each row of a (K, d) array of iterates.
BatchStep = Callable[[np.ndarray], np.ndarray]


def selections(magnitudes: np.ndarray, count: int, largest: bool, tol: float) -> list[tuple]:
    """Every valid choice of `count` indices with the largest (or smallest) magnitudes.

    Entries within `tol` of the boundary value count as tied, and any of them may be chosen.
    """
    m = np.asarray(magnitudes, dtype=np.float64)
    count = max(0, min(count, m.size))
    if count == 0:
        return [()]
    order = np.sort(m)[::-1] if largest else np.sort(m)
    boundary = order[count - 1]
    if largest:
        sure = [i for i in range(m.size) if m[i] > boundary + tol]
    else:
        sure = [i for i in range(m.size) if m[i] < boundary - tol]
    tied = [i for i in range(m.size) if abs(m[i] - boundary) <= tol]
    need = count - len(sure)
    if need < 0 or need > len(tied):  # cannot happen with a consistent tol; be safe
        return [tuple(np.argsort(-m if largest else m, kind="stable")[:count])]
    combos = list(itertools.combinations(tied, need))[:200]
    return [tuple(sorted(sure + list(c))) for c in combos]


def tie_tol(values: np.ndarray) -> float:
    return 1e-9 * max(1.0, float(np.max(np.abs(values)))) if np.size(values) else 1e-9


def step_matches(
    got: np.ndarray, candidate: np.ndarray, prev: np.ndarray, rtol: float, atol: float
) -> bool:
    """Whether one step landed on `candidate`: |got - candidate| <= atol + rtol * (|candidate|
    + |prev|). The error of computing a step grows with the operands, not the result: when an
    entry crosses zero, W[k+1] is small but carries the rounding of W[k] (float32 students)."""
    return bool(rows_matching(got, candidate, prev, rtol, atol))


def rows_matching(
    got: np.ndarray, candidates: np.ndarray, prev: np.ndarray, rtol: float, atol: float
) -> np.ndarray:
    """step_matches for every row at once: (K, d) arrays in, a (K,) bool array out."""
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(got - candidates) <= atol + rtol * (np.abs(candidates) + np.abs(prev))
    return np.all(close | (got == candidates), axis=-1)


def first_bad_step(
    W_hist: np.ndarray, step: Step, rtol: float, atol: float, batch: BatchStep | None = None
) -> tuple[int, list[np.ndarray]] | None:
    """The first k whose W[k+1] matches none of step(W[k]), with those candidates.

    With a batch step, the rows it matches are accepted at once (see the module's docstring).
    """
    fast = np.zeros(W_hist.shape[0] - 1, dtype=bool)
    if batch is not None and fast.size:
        with np.errstate(all="ignore"):
            fast = rows_matching(W_hist[1:], batch(W_hist[:-1]), W_hist[:-1], rtol, atol)
    for k in range(W_hist.shape[0] - 1):
        if fast[k]:
            continue
        candidates = step(W_hist[k])
        got = W_hist[k + 1]
        if not any(step_matches(got, c, W_hist[k], rtol, atol) for c in candidates):
            return k, candidates
    return None


def check_trajectory(
    W_hist: np.ndarray,
    step: Step,
    *,
    rtol: float,
    atol: float,
    what: str,
    start: np.ndarray,
    mistakes: Sequence[tuple[str, Step]] = (),
    batch: BatchStep | None = None,
) -> None:
    """Fail at the first step of W_hist (shape (K+1, d)) that does not follow `step`.

    `mistakes` are (cause, wrong step) pairs: when a wrong step, taken from each of the
    student's iterates, gives every step from the first bad one to the end, the feedback names
    that cause; otherwise it says that no catalogued cause matches. `batch` is the optional
    fast path.
    """
    if W_hist.shape[0] > 2 and np.all(W_hist == W_hist[-1]) and np.any(W_hist[-1] != start):
        raise CheckFailure(
            f"{what}: every row is the same vector {fmt(W_hist[-1])}, the final one.\n"
            "  Likely cause: the history holds references to one array that was updated in "
            "place; append a copy (W.copy()) at every step."
        )
    if not bool(np.all(close_mask(W_hist[0], start, rtol, atol))):
        raise CheckFailure(
            f"{what}: the first row should be the starting point {fmt(start)}, got "
            f"{fmt(W_hist[0])}. Record W before the first update."
        )
    bad = first_bad_step(W_hist, step, rtol, atol, batch)
    if bad is None:
        return
    k, candidates = bad
    got, prev = W_hist[k + 1], W_hist[k]
    best = min(candidates, key=lambda c: float(np.max(np.abs(got - c))))
    err = np.abs(got - best)
    worst = int(np.argmax(err))
    lines = [
        f"{what}: step {k + 1} (row {k + 1}) does not follow from row {k} "
        f"(tolerance |got - expected| <= {atol:g} + {rtol:g} * |expected|).",
        f"  row {k}:      {fmt(prev)}",
        f"  expected row {k + 1}: {fmt(best)}"
        + (" (or another tie choice)" if len(candidates) > 1 else ""),
        f"  got row {k + 1}:      {fmt(got)}",
        f"  worst entry [{worst}]: error {float(err[worst]):.3g}",
    ]
    if k > 0:
        lines.append(f"  rows 0..{k} were right.")
    cause = _likely_cause(W_hist, k, mistakes, rtol, atol)
    if cause:
        lines.append(f"  Likely cause: {cause}")
    elif mistakes:
        lines.append("  No catalogued mistake explains the steps from this one on.")
    raise CheckFailure("\n".join(lines))


def _explains(wrong: Step, prev: np.ndarray, got: np.ndarray, rtol: float, atol: float) -> bool:
    try:
        candidates = wrong(prev)
    except Exception:  # a mistake that cannot run from this iterate cannot match
        return False
    return any(step_matches(got, c, prev, rtol, atol) for c in candidates)


def _likely_cause(
    W_hist: np.ndarray, k: int, mistakes: Sequence[tuple[str, Step]], rtol: float, atol: float
) -> str:
    """The first known mistake that explains every step from the first bad one to the end.

    One step is not enough: from W = 0 many terms vanish, so several mistakes (and mistakes
    outside the catalogue) give the same first step. A cause is named only when its step,
    taken from each of the student's own iterates, gives the student's next iterate all the
    way through the run.
    """
    for cause, wrong in mistakes:
        if all(
            _explains(wrong, W_hist[j], W_hist[j + 1], rtol, atol)
            for j in range(k, W_hist.shape[0] - 1)
        ):
            return cause
    return ""
