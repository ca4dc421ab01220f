"""Statistical tests for random algorithms, each with a false-fail probability it guarantees.

A correct but differently random implementation (another call pattern, another generator)
must pass, so the checks test laws (unbiasedness, second moments, distributions over seeds)
and bound the probability that a correct submission fails. Every threshold comes from an
inequality that holds for any correct implementation, not from a simulation.
"""

from __future__ import annotations

import math

import numpy as np


def hoeffding_radius(n: int, value_range: float, delta: float, dims: int = 1) -> float:
    """Half-width eps such that P(|mean - E| >= eps) <= delta, jointly over `dims` coordinates.

    For n independent samples bounded in an interval of length value_range, Hoeffding's
    inequality gives P(|mean - E| >= eps) <= 2 exp(-2 n eps^2 / range^2); a union bound
    over the coordinates splits delta between them.
    """
    if n <= 0:
        raise ValueError("need at least one sample")
    return value_range * math.sqrt(math.log(2 * dims / delta) / (2 * n))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov distance sup |F_a(x) - F_b(x)|."""
    a = np.sort(np.asarray(a, dtype=np.float64).reshape(-1))
    b = np.sort(np.asarray(b, dtype=np.float64).reshape(-1))
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def ks_critical(n: int, m: int, alpha: float) -> float:
    """Distance above which two samples of sizes n, m differ with false-alarm prob <= alpha.

    From the Dvoretzky-Kiefer-Wolfowitz-Massart bound P(sup|F_n - F| > e) <= 2 exp(-2 n e^2),
    applied to both samples with alpha/2 each: if both empirical distributions lie within
    e_n and e_m of the common F, their distance is at most e_n + e_m. It holds for any F,
    discrete ones included, so ties (identical losses) cannot cause a false fail.
    """
    e_n = math.sqrt(math.log(4 / alpha) / (2 * n))
    e_m = math.sqrt(math.log(4 / alpha) / (2 * m))
    return e_n + e_m


def kl_bernoulli(q: np.ndarray | float, p: np.ndarray | float) -> np.ndarray:
    """KL(q || p) between Bernoulli(q) and Bernoulli(p), elementwise, with 0 log 0 = 0."""
    q = np.clip(np.asarray(q, dtype=np.float64), 0.0, 1.0)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(q > 0, q * np.log(q / p), 0.0)
        b = np.where(q < 1, (1 - q) * np.log((1 - q) / (1 - p)), 0.0)
    return np.where(np.isnan(a + b), np.inf, a + b)


def binomial_tail(count: np.ndarray | float, n: int, p: np.ndarray | float) -> np.ndarray:
    """A bound on the probability that Binomial(n, p) lies at least as far from n p as
    `count`, on count's side: exp(-n KL(count/n || p)) (the Chernoff bound, sharp in the
    exponent). 1 when count equals n p; 0 when the count is impossible (p = 0 or 1).

    At n = 1000 and p = 1/16 a count of 0 has bound about 1e-28, where Hoeffding's bound
    exp(-2 n (1/16)^2) = 4e-4 cannot reject: tests of small probabilities (pairs of rare
    events) need this one.
    """
    q = np.asarray(count, dtype=np.float64) / n
    return np.exp(-n * kl_bernoulli(q, p))


def binomial_rejects(
    count: np.ndarray | float, n: int, p: np.ndarray | float, delta: float
) -> np.ndarray:
    """Whether `count` successes in n independent trials of probability p are too far from
    n p: a correct count is rejected with probability at most delta (delta/2 per side)."""
    return binomial_tail(count, n, p) < delta / 2


def binomial_interval(n: int, p: float, delta: float) -> tuple[int, int]:
    """The counts of Binomial(n, p) that binomial_rejects accepts at this delta: [lo, hi]."""
    counts = np.arange(n + 1)
    ok = np.flatnonzero(~binomial_rejects(counts, n, p, delta))
    return (int(ok[0]), int(ok[-1])) if ok.size else (0, n)


def coincidence_probability(p: np.ndarray) -> float:
    """The probability that two independent draws of independent Bernoulli(p_j) outcomes
    agree on every outcome: prod_j (p_j^2 + (1 - p_j)^2). Among all pairs of n independent
    draws, some pair is identical with probability at most n (n - 1) / 2 times this (a union
    bound): the birthday test for draws that are reused."""
    p = np.asarray(p, dtype=np.float64)
    return float(np.exp(np.sum(np.log(p**2 + (1 - p) ** 2))))


def identical_pairs(rows: np.ndarray) -> tuple[int, tuple[int, int] | None]:
    """How many pairs of rows (draws) are equal, and the first repeat: (i, j), i < j, with
    j the earliest row equal to an earlier one (None when every row is distinct)."""
    rows = np.ascontiguousarray(rows)
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    pairs = int(np.sum(counts * (counts - 1) // 2))
    seen: dict[int, int] = {}
    for j, group in enumerate(np.asarray(inverse).reshape(-1).tolist()):
        if group in seen:
            return pairs, (seen[group], j)
        seen[group] = j
    return pairs, None


# ranges of probability a pooled test sums over: all of them (a bias of one sign), each
# half (a bias towards or away from 1/2) and each quarter
PROBABILITY_RANGES = (
    (0.0, 1.0),
    (0.0, 0.5),
    (0.5, 1.0),
    (0.0, 0.25),
    (0.25, 0.5),
    (0.5, 0.75),
    (0.75, 1.0),
)


def pooled_bias(
    hits: np.ndarray, p: np.ndarray, delta: float, ranges=PROBABILITY_RANGES
) -> dict | None:
    """The first range of probabilities whose outcomes, summed over every draw and entry,
    stray from the summed probabilities, or None.

    hits: (draws, m) 0/1 outcomes, independent given p; p: (m,) their probabilities, those
    of 0 or 1 left out (they cannot stray). A sum S of v independent outcomes in [0, 1] has
    P(|S - E S| >= t) <= 2 exp(-2 t^2 / v) (Hoeffding); one test per range, delta split
    between them. Pooling is what detects a small bias shared by many entries (kept with
    p + 0.02), which no test of one entry at a time has the draws to see.
    Returns lo, hi, the count, its expectation, the draws v and the radius t."""
    hits = np.asarray(hits, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    random = (p > 0) & (p < 1)
    share = delta / len(ranges)
    for lo, hi in ranges:
        inside = random & (p >= lo) & ((p < hi) | (hi == 1.0))
        v = hits.shape[0] * int(inside.sum())
        if not v:
            continue
        count = float(hits[:, inside].sum())
        expected = hits.shape[0] * float(p[inside].sum())
        t = math.sqrt(v * math.log(2 / share) / 2)
        if abs(count - expected) >= t:
            return {"lo": lo, "hi": hi, "count": count, "expected": expected, "v": v, "t": t}
    return None
