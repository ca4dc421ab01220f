"""The laws assignment C's random compressors are checked by (shared by its check files).

A correct random compressor may draw its numbers in any way from the generator it is given,
so no check compares one random stream. Each checks what every correct implementation
satisfies: the value set, the marginal law of every entry (hence unbiasedness and the exact
variance), independence between entries (pairwise joint frequencies), and the use of the
given generator (the same seed repeats the draws, another seed changes them). Every
frequency test is Hoeffding's inequality with a union bound over the entries or pairs it
tests, so its false-fail probability is at most the delta it is given; a check that runs
several tests splits FALSE_FAIL between them.
"""

from __future__ import annotations

import itertools

import numpy as np

from autograder.checking.stats import hoeffding_radius

FALSE_FAIL = 1e-7  # per check, below the 1e-6 the design asks for


def marginal_problems(
    hits: np.ndarray, p: np.ndarray, delta: float, labels: list[str], what: str
) -> list[str]:
    """hits: (draws, m) 0/1 outcomes; p: (m,) their probabilities. Each empirical frequency
    must lie within the Hoeffding radius of p (false-fail probability <= delta overall)."""
    draws = hits.shape[0]
    eps = hoeffding_radius(draws, 1.0, delta, dims=hits.shape[1])
    freq = hits.mean(axis=0)
    off = np.abs(freq - p)
    worst = int(np.argmax(off))
    if off[worst] <= eps:
        return []
    return [
        f"{what}: over {draws} draws, {labels[worst]} happened with frequency "
        f"{freq[worst]:.4f}, but its probability is {p[worst]:.4f}; a correct implementation "
        f"stays within {eps:.4f} (Hoeffding bound, false-fail probability < {delta:.1g})."
    ]


def pair_problems(
    hits: np.ndarray, p: np.ndarray, delta: float, labels: list[str], what: str
) -> list[str]:
    """Independence: for every pair of outcomes with 0 < p < 1, the frequency of both
    happening must lie within the Hoeffding radius of p_i p_j (false fails <= delta)."""
    free = [i for i in range(p.size) if 0.0 < p[i] < 1.0]
    pairs = list(itertools.combinations(free, 2))
    if not pairs:
        return []
    draws = hits.shape[0]
    eps = hoeffding_radius(draws, 1.0, delta, dims=len(pairs))
    i, j = np.array(pairs).T
    both = (hits[:, i] * hits[:, j]).mean(axis=0)
    off = np.abs(both - p[i] * p[j])
    worst = int(np.argmax(off))
    if off[worst] <= eps:
        return []
    a, b = pairs[worst]
    return [
        f"{what}: the draws are not independent. {labels[a]} and {labels[b]} happened together "
        f"in a fraction {both[worst]:.4f} of {draws} draws; independent draws give "
        f"{p[a] * p[b]:.4f} +- {eps:.4f} (Hoeffding bound, false-fail probability < "
        f"{delta:.1g}). Likely cause: one random number shared by several entries (draw one "
        "per entry)."
    ]


def rng_problems(first: np.ndarray, again: np.ndarray, other: np.ndarray, what: str) -> list[str]:
    """The given generator decides the draws: `again` (same seed) repeats the start of
    `first`; `other` (another seed) differs from it."""
    problems = []
    n = min(len(first), len(again))
    if not np.array_equal(first[:n], again[:n]):
        problems.append(
            f"{what}: two calls with generators made from the same seed gave different draws. "
            "Likely cause: the function does not draw from the generator it is given (it uses "
            "numpy's or torch's global generator, or makes a fresh one)."
        )
    m = min(len(first), len(other))
    if np.array_equal(first[:m], other[:m]):
        problems.append(
            f"{what}: calls with generators made from different seeds gave exactly the same "
            f"{m} draws: the draws do not depend on the generator (nothing is drawn from it, "
            "or it is reseeded inside)."
        )
    return problems
