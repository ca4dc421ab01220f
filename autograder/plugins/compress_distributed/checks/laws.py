"""The laws assignment C's random compressors are checked by (shared by its check files).

A correct random compressor may draw its numbers in any way from the generator it is given,
so no check compares one random stream. Each checks what every correct implementation
satisfies: the value set, the marginal law of every entry (hence unbiasedness and the exact
variance), independence between entries (pairwise joint frequencies), and the use of the
given generator: a call with a generator in the same state repeats the draws although the
global generators (numpy's, Python's, torch's) were seeded otherwise, and a call with a
generator in another state, the globals seeded the same, draws otherwise. C's problems say
"draw from rng" (state.generator for the hook), so unlike A2.3 the globals do not count.
Every frequency test is Hoeffding's inequality with a union bound over the entries or pairs
it tests, so its false-fail probability is at most the delta it is given; a check that runs
several tests splits FALSE_FAIL between them. Independence across draws is the birthday
test (repeat_problems): among many draws of a wide input, no two may be identical. A cause is named only when the draws follow
the law that cause gives (a test at the same delta does not reject it), or have the
structure it leaves (every draw the same, one uniform shared by the entries).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

from autograder.checking.stats import (
    coincidence_probability,
    hoeffding_radius,
    identical_pairs,
    pooled_bias,
)

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


def pooled_problems(hits: np.ndarray, p: np.ndarray, delta: float, what: str, event: str):
    """The outcomes of every draw and entry together, range by range of p, against their
    summed probabilities (stats.pooled_bias, false-fail probability <= delta): a small bias
    shared by many entries, which the test of each entry alone has too few draws to see.
    `event` says what an outcome is ("kept", "rounded up")."""
    found = pooled_bias(hits, p, delta)
    if found is None:
        return []
    v, count, expected, hi = found["v"], found["count"], found["expected"], found["hi"]
    return [
        f"{what}: over {hits.shape[0]} draws, the entries whose probability lies in "
        f"[{found['lo']:g}, {hi:g}{']' if hi == 1 else ')'} were {event} {count:.0f} times in "
        f"{v} (frequency {count / v:.4f}); a correct implementation gives {expected:.0f} +- "
        f"{found['t']:.0f} (average probability {expected / v:.4f}; Hoeffding bound, "
        f"false-fail probability < {delta:.1g}): the draws are biased."
    ]


def follows(hits: np.ndarray, p: np.ndarray, delta: float) -> bool:
    """Whether the frequencies are those of probabilities p (the marginal test at delta does
    not reject them): how a cause that predicts other probabilities is confirmed."""
    return not marginal_problems(hits, p, delta, [""] * p.size, "")


def nested(hits: np.ndarray, p: np.ndarray) -> bool:
    """Whether every draw happened for exactly the outcomes of largest probability: what one
    uniform u shared by all of them gives (outcome i happens when u < p_i)."""
    big = np.where(hits > 0, p[None, :], np.inf).min(axis=1)
    small = np.where(hits > 0, -np.inf, p[None, :]).max(axis=1)
    return bool(np.all(big >= small))


def pair_problems(
    hits: np.ndarray,
    p: np.ndarray,
    delta: float,
    labels: list[str],
    what: str,
    cause: tuple[str, Callable[[np.ndarray], bool]] | None = None,
) -> list[str]:
    """Independence: for every pair of outcomes with 0 < p < 1, the frequency of both
    happening must lie within the Hoeffding radius of p_i p_j (false fails <= delta).
    `cause` (its words, and a test of the draws) is named when the draws pass its test."""
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
    named = cause is not None and cause[1](hits)
    return [
        f"{what}: the draws are not independent. {labels[a]} and {labels[b]} happened together "
        f"in a fraction {both[worst]:.4f} of {draws} draws; independent draws give "
        f"{p[a] * p[b]:.4f} +- {eps:.4f} (Hoeffding bound, false-fail probability < "
        f"{delta:.1g})." + (f" Likely cause: {cause[0]}" if named and cause else "")
    ]


def shared_uniform(p: np.ndarray) -> tuple[str, Callable[[np.ndarray], bool]]:
    """The cause 'one uniform for all entries', with its test for probabilities p."""
    words = (
        "one random number shared by all entries: in every draw exactly the entries of "
        "largest probability happened, as one uniform u compared with each p_j gives (draw "
        "one per entry)."
    )
    return words, lambda hits: nested(hits, p)


def coincidence(p: np.ndarray, draws: int) -> float:
    """An upper bound on the probability that two independent correct streams of `draws`
    draws of independent outcomes with probabilities p are equal: prod max(p, 1 - p)."""
    per = float(np.sum(np.log(np.maximum(p, 1 - p))))
    return math.exp(draws * per)


def rng_problems(
    first: np.ndarray, again: np.ndarray, other: np.ndarray, what: str, p: np.ndarray
) -> list[str]:
    """The given generator decides the draws: `again` (a generator in the same state, the
    global generators seeded otherwise) repeats the start of `first`; `other` (a generator
    in another state, the globals seeded as for `first`) differs from it. p: the
    probabilities of the outcomes one draw decides (for the chance of a coincidence)."""
    problems = []
    n = min(len(first), len(again))
    if not np.array_equal(first[:n], again[:n]):
        problems.append(
            f"{what}: two calls with generators in the same state gave different draws (only "
            "the global generators of numpy, Python and torch were seeded otherwise), so the "
            "function does not draw from the generator it is given alone: its draws depend "
            "on a global generator, a fresh generator or state kept between calls."
        )
    m = min(len(first), len(other))
    if np.array_equal(first[:m], other[:m]):
        chance = coincidence(p, m)
        problems.append(
            f"{what}: calls with generators in different states gave exactly the same {m} "
            "draws, so the draws do not depend on the generator it is given (two correct "
            f"streams coincide with probability below {max(chance, 1e-300):.0e})."
        )
    return problems


def repeat_problems(hits: np.ndarray, p: np.ndarray, delta: float, what: str) -> list[str]:
    """The birthday test on draws (rows of 0/1 outcomes with probabilities p): two
    independent draws agree on every outcome with probability prod (p^2 + (1 - p)^2), so
    some pair of the n draws does with probability at most n (n - 1) / 2 times that, which
    the input must keep below delta (a RuntimeError otherwise: the check's own input is
    wrong). Draws reused by later calls, at any distance, fail it; so do draws of one
    uniform shared by the entries (few patterns), and the cause named tells them apart."""
    free = (p > 0) & (p < 1)
    n = hits.shape[0]
    bound = n * (n - 1) / 2 * coincidence_probability(p[free])
    if bound >= delta:
        raise RuntimeError(f"the birthday test cannot reach {delta:g} on these inputs")
    count, first = identical_pairs(hits[:, free] > 0)
    if first is None:
        return []
    return [
        f"{what}: over {n} calls with one generator, draws {first[0]} and {first[1]} are "
        f"identical, and {count} of the {n * (n - 1) // 2} pairs of draws are: the draws are "
        f"not independent. With {int(free.sum())} random outcomes per draw, independent draws "
        f"have some identical pair with probability < {max(bound, 1e-300):.0e} (false-fail "
        f"probability < {delta:.1g}). Likely cause: "
        + (
            "every draw is the same: nothing is drawn at random (a rounding, or a rule that "
            "ignores the random numbers)."
            if np.all(hits[:, free] == hits[:1, free])
            else shared_uniform(p[free])[0]
            if nested(hits[:, free], p[free])
            else "an earlier result kept and returned again; draw fresh random numbers "
            "from rng at every call."
        )
    ]
