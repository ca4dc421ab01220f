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
