"""Hidden checks for C2: top-k, 1-bit, QSGD and TernGrad as functions on arrays.

Each function is called on the student's own gradient and on hidden inputs drawn afresh for
each submission (from its seed), and compared with effdl on the same inputs. The drawn
inputs keep what the checks rely on: a tie at the top-k cut where every valid choice passes
and no near-tie anywhere else, ratio * n not a whole number (ceil and floor differ), a zero
entry and both signs for 1-bit, QSGD vectors whose every entry rounds up with a probability
in [0.3, 0.7], TernGrad gradients with one sure entry, one zero and the others kept with
probabilities in [0.1, 0.9]. The random compressors are checked by their laws (laws.py),
never by one random stream, and by their use of the generator they are given: drawing from
it earns nothing by itself, but draws that do not come from it fail the whole check.

Conventions accepted: vectors as (n,) or (n, 1), lists, numpy arrays or tensors, float32 or
float64; top-k indices in any order, any choice among tied |g_i|; 1-bit bits as bools or
0/1; QSGD and TernGrad drawing in any way (rng.random, rng.binomial, one rng.uniform per
entry in a loop, `u < p` or `u <= p`) from the given rng, and only from it.
"""

from __future__ import annotations

import numpy as np

from autograder.checking.compare import Mistake, as_array, assert_close, fmt
from autograder.checking.credit import credit_parts, distinct
from autograder.checking.returns import Array, Number, OneOf, Tuple
from autograder.checking.spec import Call, Rng, check
from autograder.checking.stats import coincidence_probability, hoeffding_radius
from autograder.checking.sub import Case, Sub
from autograder.checking.trajectory import selections, tie_tol
from autograder.checking.verdict import CheckFailure
from effdl import compression as ref

from .laws import (
    FALSE_FAIL,
    follows,
    marginal_problems,
    pair_problems,
    pooled_problems,
    repeat_problems,
    rng_problems,
    shared_uniform,
)

RTOL, ATOL = 1e-5, 1e-7  # float32 arithmetic on these sizes stays far inside this
QSGD_DRAWS = 3000
TERN_DRAWS = 3000
AGAIN = 50  # draws of the same-state and other-state calls
WIDE_DRAWS = 200  # draws of a wide input: the birthday test of reused draws, the pooled bias test
# (Rng seed, seed of the global generators): "again" has the Rng of "a" and other globals,
# the other-state call another Rng and the globals of "a".
QSGD_SEEDS = {
    "a": (21, 721),
    "again": (21, 722),
    "b": (22, 721),
    "s1": (23, 723),
    "zero": (24, 724),
    "wide": (25, 725),
}
TERN_SEEDS = {"a": (31, 731), "again": (31, 732), "other": (33, 731), "given_s": (32, 733)}
TERN_SEEDS["wide"] = (34, 734)
TERN_SEEDS["small_s"] = (35, 735)
SMALL_S_DRAWS = 400  # draws at a given s below max |g|, where min(|g_j| / s, 1) caps at 1


def _g(variant: dict) -> np.ndarray:
    return np.array(variant["c2"]["g"], dtype=np.float64)


def _signed(rng: np.random.Generator, magnitudes: np.ndarray) -> np.ndarray:
    return magnitudes * rng.choice([-1.0, 1.0], size=magnitudes.shape)


# --------------------------------------------------------------------------- hidden inputs
def _odd_ratio(rng: np.random.Generator, n: int, ratios: tuple[float, ...]) -> float | None:
    """A ratio whose ratio * n is above 2 and not a whole number (floor and ceil differ)."""
    ratio = float(rng.choice(ratios))
    product = round(ratio * n, 9)
    return None if product < 2 or product == int(product) else ratio


def _mistaken_choices(g: np.ndarray, k: int) -> list[np.ndarray]:
    """What the catalogued top-k mistakes keep: the largest signed values, the first k, the
    smallest |g_i|."""
    return [
        np.argsort(-g, kind="stable")[:k],
        np.arange(k),
        np.argsort(np.abs(g), kind="stable")[:k],
    ]


def _tells_topk_apart(g: np.ndarray, k: int) -> bool:
    """No catalogued mistake is a valid choice, and a negative entry is surely kept."""
    sets = selections(np.abs(g), k, largest=True, tol=tie_tol(g))
    if any(tuple(sorted(w.tolist())) in sets for w in _mistaken_choices(g, k)):
        return False
    sure = set.intersection(*(set(s) for s in sets))
    return any(g[i] < 0 for i in sure)


def draw_topk_ties(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """8 to 11 distinct multiples of 0.25, two of equal |g_i| and opposite signs at the k-th
    and (k+1)-th place (either may be kept)."""
    while True:
        n = int(rng.integers(8, 12))
        ratio = _odd_ratio(rng, n, (0.3, 0.35, 0.4))
        if ratio is None:
            continue
        k = ref.topk_count(n, ratio)
        mags = np.sort(rng.choice(np.arange(1, 21) / 4, size=n - 1, replace=False))[::-1]
        ordered = _signed(rng, np.concatenate([mags[:k], mags[k - 1 :]]))
        ordered[k - 1], ordered[k] = mags[k - 1], -mags[k - 1]
        g = ordered[rng.permutation(n)]
        if _tells_topk_apart(g, k):
            return g, ratio


def draw_topk_long(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """24 to 36 normal entries (2 decimals), the k-th and (k+1)-th |g_i| at least 0.05 apart."""
    while True:
        n = int(rng.integers(24, 37))
        ratio = _odd_ratio(rng, n, (0.1, 0.15, 0.2))
        if ratio is None:
            continue
        k = ref.topk_count(n, ratio)
        g = np.round(rng.normal(0.0, 1.0, n), 2)
        a = np.sort(np.abs(g))[::-1]
        if a[k - 1] - a[k] >= 0.05 and _tells_topk_apart(g, k):
            return g, ratio


def draw_topk_all(rng: np.random.Generator) -> np.ndarray:
    """4 to 6 halves with a negative one (ratio 1 keeps them all)."""
    while True:
        g = _signed(rng, rng.integers(1, 9, size=int(rng.integers(4, 7))) / 2)
        if (g < 0).any():
            return g


def _topk_returns(n: int, k: int) -> Tuple:
    """(indices, values): k of each; any length up to n is read too, to say what it is."""
    return Tuple(
        OneOf((Array((k,), whole=True), Array((None,), whole=True, max_size=n))),
        OneOf((Array((k,)), Array((None,), max_size=n))),
        names=("indices", "values"),
    )


# --------------------------------------------------------------------------- top-k
def topk_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    ties, long, every = draw_topk_ties(rng), draw_topk_long(rng), draw_topk_all(rng)
    cases = [
        ("own", _g(variant), float(variant["c2"]["ratio"])),
        ("ties", *ties),
        ("column", long[0].reshape(-1, 1), long[1]),
        ("all", every, 1.0),
    ]
    return [
        Call(
            f"c2.topk.{name}",
            "topk_compress",
            (g, ratio),
            returns=_topk_returns(g.size, ref.topk_count(g.size, ratio)),
        )
        for name, g, ratio in cases
    ]


def _indices(idx: np.ndarray, g: np.ndarray, ratio: float, what: str) -> np.ndarray:
    """The returned indices as int64, or a failure naming the constraint they break."""
    n, k = g.size, ref.topk_count(g.size, ratio)
    if idx.size != k:
        cause = ""
        other_k = {max(1, int(ratio * n)), max(1, round(ratio * n))} - {k}
        valid = selections(np.abs(g), idx.size, largest=True, tol=tie_tol(g))
        if idx.size in other_k and tuple(sorted(idx.astype(int).tolist())) in valid:
            cause = (
                f"\n  Likely cause: k computed another way: these are the top {idx.size} = "
                f"floor or round of ratio * n = {ratio * n:g}; use topk_count, which rounds up "
                "(k = ceil(ratio * n))."
            )
        raise CheckFailure(
            f"{what}: expected k = topk_count({n}, ratio) = {k} indices, got {idx.size}." + cause
        )
    if idx.min() < 0 or idx.max() >= n:
        raise CheckFailure(f"{what}: indices must be integers in [0, {n}), got {fmt(idx)}.")
    out = idx.astype(np.int64)
    if np.unique(out).size != k:
        raise CheckFailure(f"{what}: the indices {fmt(out)} repeat an entry.")
    return out


@check(
    "c2.topk_compress",
    points=4,
    problem="C2.1",
    title="top-k sparsification by magnitude",
    function="topk_compress",
    calls=topk_calls,
)
def test_topk_compress(sub: Sub) -> None:
    def one(case: Case) -> None:
        g, ratio = np.asarray(case.args[0], dtype=np.float64).reshape(-1), case.args[1]
        k = ref.topk_count(g.size, ratio)
        label = "your g" if case.id.endswith(".own") else "a hidden g"
        what = f"topk_compress({label} = {fmt(g)}, ratio={ratio:g})"
        raw_idx, raw_vals = case.value
        idx = _indices(raw_idx, g, ratio, what)
        sets = selections(np.abs(g), k, largest=True, tol=tie_tol(g))
        if tuple(sorted(idx.tolist())) not in sets:
            causes = (
                "the k largest signed values were kept; rank the entries by |g_i|.",
                "the first k entries by index were kept, not the k largest |g_i|.",
                "the k SMALLEST |g_i| were kept.",
            )
            cause = next(
                (
                    c
                    for c, alt in zip(causes, _mistaken_choices(g, k), strict=True)
                    if set(alt.tolist()) == set(idx.tolist())
                ),
                "",
            )
            raise CheckFailure(
                f"{what}: expected the indices of the {k} largest |g_i|, {sorted(sets[0])}"
                + (" (or another choice among tied |g_i|)" if len(sets) > 1 else "")
                + f", got {sorted(idx.tolist())}."
                + (f"\n  Likely cause: {cause}" if cause else "")
            )
        vals = as_array(raw_vals, f"{what}: values", (k,))
        mistakes = [Mistake("the values are |g_i|; send the signed g_i.", lambda: np.abs(g[idx]))]
        assert_close(
            vals, g[idx], rtol=RTOL, atol=ATOL, what=f"{what}: values g[indices]", mistakes=mistakes
        )

    # ratio 1 keeps every entry, which a function sending everything does for any ratio
    credit_parts(sub.cases(), one, vacuous=lambda case: case.id == "c2.topk.all")


def draw_untopk(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """k of n indices in an order that is not increasing, and k distinct nonzero values."""
    n, k = int(rng.integers(7, 13)), int(rng.integers(2, 5))
    while True:
        idx = rng.choice(n, size=k, replace=False)
        if np.any(np.diff(idx) < 0):
            break
    vals = _signed(rng, rng.choice(np.arange(1, 17) / 4, size=k, replace=False))
    return idx.astype(np.int64), vals, n


def topk_decompress_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    out = []
    for i in (1, 2):
        idx, vals, n = draw_untopk(rng)
        out.append(Call(f"c2.untopk.{i}", "topk_decompress", (idx, vals, n), returns=Array((n,))))
    return out


@check(
    "c2.topk_decompress",
    points=2,
    problem="C2.1",
    title="top-k messages back to dense vectors",
    function="topk_decompress",
    calls=topk_decompress_calls,
)
def test_topk_decompress(sub: Sub) -> None:
    for case in sub.cases():
        idx, vals, n = case.args
        wrong = np.zeros(n)
        wrong[np.sort(idx)] = vals
        assert_close(
            case.value,
            ref.topk_decompress(idx, vals, n),
            rtol=RTOL,
            atol=ATOL,
            what=f"topk_decompress(indices={fmt(idx)}, values={fmt(vals)}, n={n})",
            mistakes=[
                Mistake(
                    "the values were placed at the sorted indices; value i belongs at "
                    "indices[i], in the order given.",
                    lambda wrong=wrong: wrong,
                )
            ],
        )


# --------------------------------------------------------------------------- 1-bit
def draw_onebit_probe(rng: np.random.Generator) -> np.ndarray:
    """7 halves with one zero, at least two of each sign, and group means that differ from
    the per-tensor scale mean |g| (so each catalogued mistake gives other numbers)."""
    while True:
        g = _signed(rng, rng.integers(1, 9, size=7) / 2)
        g[rng.integers(7)] = 0.0
        if (g < 0).sum() < 2 or (g > 0).sum() < 2:
            continue
        _, pos, neg = ref.onebit_compress(g)
        scale = float(np.mean(np.abs(g)))
        if min(abs(pos - scale), abs(-neg - scale)) >= 0.1:
            return g


def draw_onebit_positive(rng: np.random.Generator) -> np.ndarray:
    """4 or 5 nonnegative halves with one zero: no '-' group, whose mean is 0."""
    g = rng.integers(1, 9, size=int(rng.integers(4, 6))) / 2
    g[rng.integers(g.size)] = 0.0
    return g


def _onebit_returns(n: int) -> Tuple:
    return Tuple(Array((n,)), Number(), Number(), names=("bits", "pos_mean", "neg_mean"))


def onebit_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    probe, positive = draw_onebit_probe(rng), draw_onebit_positive(rng)
    cases = [("own", _g(variant)), ("probe", probe.reshape(-1, 1)), ("positive", positive)]
    return [
        Call(f"c2.onebit.{name}", "onebit_compress", (g,), returns=_onebit_returns(g.size))
        for name, g in cases
    ]


@check(
    "c2.onebit_compress",
    points=3,
    problem="C2.2",
    title="1-bit quantization with the two group means",
    function="onebit_compress",
    calls=onebit_calls,
)
def test_onebit_compress(sub: Sub) -> None:
    def one(case: Case) -> None:
        g = np.asarray(case.args[0], dtype=np.float64).reshape(-1)
        what = f"onebit_compress({fmt(g)})"
        bits, pos, neg = case.value
        want_bits, want_pos, want_neg = ref.onebit_compress(g)
        if not np.all((bits == 0) | (bits == 1)):
            raise CheckFailure(f"{what}: bits must be True/False (or 1/0), got {fmt(bits)}.")
        if not np.array_equal(bits.astype(bool), want_bits):
            cause = ""
            if np.array_equal(bits.astype(bool), g > 0):
                cause = (
                    "\n  Likely cause: entries equal to 0 were put in the '-' group; the "
                    "stated rule puts every g_i >= 0 in the '+' group."
                )
            elif np.array_equal(bits.astype(bool), ~want_bits):
                cause = "\n  Likely cause: the bits are inverted (True must mean g_i >= 0)."
            wrong = np.flatnonzero(bits.astype(bool) != want_bits)
            where = ", ".join(
                f"[{i}] (g = {fmt(float(g[i]))}): expected {bool(want_bits[i])}, got "
                f"{bool(bits[i])}"
                for i in wrong[:5]
            )
            more = f" and {wrong.size - 5} more" if wrong.size > 5 else ""
            raise CheckFailure(
                f"{what}: expected bits (g >= 0) = {fmt(want_bits)}, got {fmt(bits.astype(bool))}"
                f"; {wrong.size} of {g.size} differ: {where}{more}." + cause
            )
        scale = float(np.mean(np.abs(g)))
        mistakes = [
            Mistake(
                "one per-tensor scale mean|g| for both groups; the stated rule rebuilds each "
                "group as the mean of its own entries.",
                lambda: np.array([scale, -scale]),
            ),
            Mistake("the two means are swapped.", lambda: np.array([want_neg, want_pos])),
            Mistake(
                "the means of |g_i| were taken; the '-' group's mean is negative.",
                lambda: np.array([want_pos, -want_neg]),
            ),
        ]
        assert_close(
            np.array([pos, neg]),
            [want_pos, want_neg],
            rtol=RTOL,
            atol=ATOL,
            what=f"{what}: (pos_mean, neg_mean) (an empty group's mean is 0)",
            mistakes=mistakes,
        )

    credit_parts(sub.cases(), one)


def draw_unbit(rng: np.random.Generator, pos_zero: bool) -> tuple[np.ndarray, float, float]:
    """Bits with both values, a positive mean (or 0) and a negative one."""
    while True:
        bits = rng.random(int(rng.integers(5, 8))) < 0.5
        if bits.any() and not bits.all():
            break
    pos = 0.0 if pos_zero else float(rng.integers(1, 13)) / 4
    return bits, pos, -float(rng.integers(1, 13)) / 4


def onebit_decompress_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    out = []
    for i, pos_zero in ((1, False), (2, True)):
        bits, pos, neg = draw_unbit(rng, pos_zero)
        out.append(
            Call(
                f"c2.unbit.{i}", "onebit_decompress", (bits, pos, neg), returns=Array((bits.size,))
            )
        )
    return out


@check(
    "c2.onebit_decompress",
    points=1,
    problem="C2.2",
    title="1-bit messages back to vectors",
    function="onebit_decompress",
    calls=onebit_decompress_calls,
)
def test_onebit_decompress(sub: Sub) -> None:
    for case in sub.cases():
        bits, pos, neg = case.args
        assert_close(
            case.value,
            ref.onebit_decompress(bits, pos, neg),
            rtol=RTOL,
            atol=ATOL,
            what=f"onebit_decompress({fmt(bits)}, {pos:g}, {neg:g})",
            mistakes=[
                Mistake(
                    "pos_mean and neg_mean are swapped.",
                    lambda b=bits, p=pos, q=neg: np.where(b, q, p),
                )
            ],
        )


# --------------------------------------------------------------------------- QSGD
def _first_row(candidates: np.ndarray, ok: np.ndarray) -> np.ndarray | None:
    rows = np.flatnonzero(ok)
    return candidates[rows[0]] if rows.size else None


def draw_qsgd_v(rng: np.random.Generator, s: int) -> np.ndarray:
    """8 entries (2 decimals), one of them 0, every other rounding up with probability
    frac(s |v_i| / ||v||) in [0.3, 0.7]: every draw is informative, and no level of
    ||v|| / s is one of max|v| / s (so levels scaled by max |v_i| are never allowed)."""
    while True:
        v = np.round(rng.uniform(-1.0, 1.0, size=(4096, 8)), 2)
        v[np.arange(4096), rng.integers(8, size=4096)] = 0.0
        norm = np.linalg.norm(v, axis=1, keepdims=True)
        r = s * np.abs(v) / np.where(norm > 0, norm, 1.0)
        frac = r - np.floor(r)
        nonzero = v != 0
        ok = (nonzero.sum(axis=1) == 7) & np.all(~nonzero | ((frac >= 0.3) & (frac <= 0.7)), 1)
        found = _first_row(v, ok)
        if found is not None:
            return found


def draw_qsgd_v1(rng: np.random.Generator) -> np.ndarray:
    """6 entries (2 decimals) with |v_i| / ||v|| in [0.15, 0.75] (s = 1 rounds up with
    that probability)."""
    while True:
        v = np.round(rng.uniform(-1.0, 1.0, size=(1024, 6)), 2)
        r = np.abs(v) / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        found = _first_row(v, np.all((r >= 0.15) & (r <= 0.75), axis=1))
        if found is not None:
            return found


def draw_qsgd_wide(rng: np.random.Generator, s: int) -> np.ndarray:
    """400 entries of either sign, each rounding up with probability r_i - floor(r_i) in
    [0.02, 0.98] (r_i = s |v_i| / ||v||): two independent draws agree on all of them with
    probability below 1e-30 (the birthday test), and 200 draws are 80,000 outcomes, which the
    pooled test needs to see a bias of 0.02 shared by the entries."""
    while True:
        r = rng.uniform(0.3, 0.6, size=400)
        r *= s / np.linalg.norm(r)
        frac = r - np.floor(r)
        pairs = WIDE_DRAWS * (WIDE_DRAWS - 1) / 2
        if (
            np.all((frac >= 0.02) & (frac <= 0.98))
            and pairs * coincidence_probability(frac) < 1e-20
        ):
            return _signed(rng, np.round(r, 6))


def qsgd_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    s = int(variant["c2"]["qsgd_s"])
    v, v1 = draw_qsgd_v(rng, s), draw_qsgd_v1(rng)

    def call(name: str, vector: np.ndarray, levels: int, repeat: int) -> Call:
        r, g = QSGD_SEEDS[name]
        return Call(
            f"c2.qsgd.{name}",
            "qsgd_quantize",
            (vector, levels),
            {"rng": Rng(r)},
            repeat=repeat,
            timeout=30,
            seed=g,
            returns=Array((vector.size,)),
        )

    return [
        call("a", v, s, QSGD_DRAWS),
        call("again", v, s, AGAIN),
        call("b", v, s, QSGD_DRAWS),
        call("s1", v1.reshape(-1, 1), 1, QSGD_DRAWS),
        call("zero", np.zeros(5), s, 1),
        call("wide", draw_qsgd_wide(rng, s), s, WIDE_DRAWS),
    ]


def _qsgd_levels(draws: np.ndarray, v: np.ndarray, s: int, scale: float) -> np.ndarray:
    """Whether each entry of each draw is scale sign(v_i) l / s with l = floor(s |v_i| /
    scale) or that plus 1: QSGD's value set for scale ||v||_2 (or a mistake's)."""
    r = s * np.abs(v) / scale
    level = np.abs(draws) * s / scale
    on_level = np.isclose(level, np.floor(r), rtol=0, atol=1e-6) | np.isclose(
        level, np.floor(r) + 1, rtol=0, atol=1e-6
    )
    return on_level & ((np.sign(draws) == np.sign(v)) | (draws == 0))


def _qsgd_law(draws: np.ndarray, v: np.ndarray, s: int, delta: float, what: str) -> list[str]:
    """Value set, marginals (the probability of rounding up) and their pooled sums,
    independence, variance bound: four tests at delta / 4 each."""
    norm = float(np.linalg.norm(v))
    r = s * np.abs(v) / norm
    low = np.floor(r)
    unit = norm / s
    valid = _qsgd_levels(draws, v, s, norm)
    if not np.all(valid):
        t, i = (int(x) for x in np.argwhere(~valid)[0])
        top = float(np.max(np.abs(v)))
        cause = ""
        if np.all(_qsgd_levels(draws, v, s, top)):
            cause = (
                "\n  Likely cause: the levels are scaled by max |v_i| (every draw is "
                "max|v| sign(v_i) l / s); QSGD uses ||v||_2."
            )
        return [
            f"{what}: every entry must be ||v||_2 sign(v_i) l / s with l = floor(s |v_i| / "
            f"||v||_2) or that plus 1; draw {t} has entry [{i}] = {draws[t, i]:.6g} (allowed "
            f"{np.sign(v[i]) * low[i] * unit:.6g} or {np.sign(v[i]) * (low[i] + 1) * unit:.6g})."
            + cause
        ]
    up = np.isclose(np.abs(draws) / unit, low + 1, rtol=0, atol=1e-6).astype(float)
    p = r - low
    labels = [f"rounding entry [{i}] up" for i in range(v.size)]
    problems = marginal_problems(up, p, delta / 4, labels, what)
    problems = problems or pooled_problems(up, p, delta / 4, what, "rounded up")
    if problems:
        mean = draws.mean(axis=0)
        worst = int(np.argmax(np.abs(mean - v)))
        problems[0] += (
            f" So the quantizer is biased: the mean of entry [{worst}] is {mean[worst]:.4f}, "
            f"E[Q(v)_i] = v_i = {v[worst]:g}."
        )
        if np.all(up == (np.round(r) > low)[None, :]):
            problems[0] += (
                " Likely cause: rounding to the nearest level (every draw is the nearest "
                "level); QSGD rounds up at random, with probability r_i - l_i, which is what "
                "makes it unbiased."
            )
        elif follows(up, np.where(v != 0, 1 - p, 0.0), delta / 4):
            problems[0] += (
                " Likely cause: the probability is inverted (each entry rounds up with "
                "probability 1 - (r_i - l_i), as the frequencies show)."
            )
        return problems
    problems += pair_problems(up, p, delta / 4, labels, what, cause=shared_uniform(p))
    sq = np.sum((draws - v) ** 2, axis=1)
    bound = ref.qsgd_variance_bound(v.size, s) * norm**2
    eps = hoeffding_radius(sq.size, v.size * unit**2, delta / 4)
    if sq.mean() > bound + eps:
        problems.append(
            f"{what}: E||Q(v) - v||^2 must be at most min(n/s^2, sqrt(n)/s) ||v||^2 = "
            f"{bound:.4f}; the draws give {sq.mean():.4f} (allowed {eps:.4f} above the bound)."
        )
    return problems


def _raise(problems: list[str]) -> None:
    if problems:
        raise CheckFailure("\n".join(problems))


@check(
    "c2.qsgd",
    points=5,
    problem="C2.3",
    title="QSGD: levels, unbiasedness, independence, variance bound, the given rng",
    function="qsgd_quantize",
    calls=qsgd_calls,
)
def test_qsgd(sub: Sub) -> None:
    a, again, b, s1, zero, wide = sub.cases()
    v, s = a.args
    v1 = np.asarray(s1.args[0], dtype=np.float64).reshape(-1)
    what = f"qsgd_quantize(v={fmt(v)}, s={s})"
    what1 = f"qsgd_quantize(v={fmt(v1)} as a column, s=1)"
    norm = float(np.linalg.norm(v))
    p = s * np.abs(v) / norm - np.floor(s * np.abs(v) / norm)

    def state(_: object) -> None:
        _raise(rng_problems(np.stack(a.value), np.stack(again.value), np.stack(b.value), what, p))

    def laws(_: object) -> None:
        # the two streams together: a correct one fails with probability < FALSE_FAIL / 4
        both = np.concatenate([np.stack(a.value), np.stack(b.value)])
        sub.add_plot(
            "C2.3",
            "C2.3 QSGD: the mean of each entry over 6000 draws, against v",
            {"mean of Q(v)": both.mean(axis=0)},
            {"v": v},
            x_label="entry i",
        )
        found = _qsgd_law(both, v, s, FALSE_FAIL / 4, what)
        # on a wide v, the birthday test (no call may repeat an earlier one) and the pooled
        # bias test, FALSE_FAIL / 8 each
        w = np.asarray(wide.args[0], dtype=np.float64)
        what_w = f"qsgd_quantize(v={fmt(w)}, s={s})"
        draws, norm_w = np.stack(wide.value), float(np.linalg.norm(w))
        r = s * np.abs(w) / norm_w
        if not np.all(_qsgd_levels(draws, w, s, norm_w)):
            _raise(found + _qsgd_law(draws, w, s, FALSE_FAIL / 4, what_w))  # the bad value
        up = np.isclose(np.abs(draws) * s / norm_w, np.floor(r) + 1, rtol=0, atol=1e-6)
        # a reused draw first: it also explains law failures (fewer independent draws)
        p_w = r - np.floor(r)
        repeats = repeat_problems(up.astype(float), p_w, FALSE_FAIL / 8, what_w)
        pooled = pooled_problems(up.astype(float), p_w, FALSE_FAIL / 8, what_w, "rounded up")
        _raise((repeats or pooled) + found)

    def column(_: object) -> None:
        _raise(_qsgd_law(np.stack(s1.value), v1, 1, FALSE_FAIL / 2, what1))

    def zeros(_: object) -> None:
        got = zero.value
        if not np.all(got == 0):
            raise CheckFailure(f"qsgd_quantize of a zero vector must be zeros, got {fmt(got)}.")

    _state_first(
        state, [laws, column, zeros], weights=[0.55, 0.3, 0.15], vacuous=lambda p: p is zeros
    )


def _state_first(state, parts, weights, vacuous=None) -> None:
    """Drawing from the given generator earns nothing by itself (wrong rules can do it
    too), but draws that do not come from it fail the whole check, whatever their laws;
    `vacuous(part)` marks parts an idle function passes too (credit_parts)."""
    try:
        state(None)
    except CheckFailure as failure:
        found = [str(failure)]
        for part in parts:
            try:
                part(None)
            except CheckFailure as other:
                found.append(str(other))
        raise CheckFailure("\n".join(distinct(found))) from None
    credit_parts(
        [part for part in parts], lambda part: part(None), weights=weights, vacuous=vacuous
    )


# --------------------------------------------------------------------------- TernGrad
def draw_terngrad(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """8 entries (2 decimals): one at max |g| (kept for sure), one 0, the others kept with
    probabilities in [0.1, 0.9], at least one of them 0.2 away from 1/2 (so that the
    inverted law, 1 - p, differs); and a given s above max |g|."""
    while True:
        top = float(rng.choice([2.0, 2.5, 3.0, 4.0, 5.0]))
        mags = np.round(rng.uniform(0.1, 0.9, size=6) * top, 2)
        g = _signed(rng, np.concatenate([[top], mags, [0.0]]))[rng.permutation(8)]
        p = mags / top
        if np.all((p >= 0.1) & (p <= 0.9)) and np.max(np.abs(p - 0.5)) >= 0.2:
            return g, round(top * float(rng.uniform(1.15, 1.5)), 1)


def draw_terngrad_wide(rng: np.random.Generator) -> np.ndarray:
    """401 entries of either sign: one at max |g| = 4 (kept for sure), the others kept with
    probabilities in [0.05, 0.95]: two independent draws agree on all 400 with probability
    below 1e-30 (the birthday test), and 200 draws are 80,000 outcomes, enough for the
    pooled test to see a bias of 0.015 shared by the entries."""
    mags = np.concatenate([[4.0], rng.integers(20, 381, size=400) / 100])
    return _signed(rng, mags)[rng.permutation(401)]


def terngrad_calls(variant: dict, seed: int) -> list[Call]:
    rng = np.random.default_rng(seed)
    g, s = draw_terngrad(rng)
    wide = draw_terngrad_wide(rng)

    def call(name: str, args: tuple, repeat: int) -> Call:
        r, glob = TERN_SEEDS[name]
        return Call(
            f"c2.tern.{name}",
            "terngrad",
            args,
            {"rng": Rng(r)},
            repeat=repeat,
            timeout=30,
            seed=glob,
            returns=Array((args[0].size,)),
        )

    return [
        call("a", (g,), TERN_DRAWS),
        call("again", (g,), AGAIN),
        call("other", (g,), AGAIN),
        call("given_s", (g, s), TERN_DRAWS),
        call("wide", (wide,), WIDE_DRAWS),
        call("small_s", (g, round(0.6 * float(np.max(np.abs(g))), 2)), SMALL_S_DRAWS),
    ]


def _tern_kept(draws: np.ndarray, g: np.ndarray, s: float, what: str) -> np.ndarray:
    """The kept-or-not bits of TernGrad draws, or a failure naming a value that is neither
    0 nor s sign(g_j)."""
    kept = np.isclose(draws, s * np.sign(g), rtol=0, atol=1e-6 * s) & (g != 0)
    if not np.all(kept | (draws == 0)):
        t, i = (int(x) for x in np.argwhere(~(kept | (draws == 0)))[0])
        raise CheckFailure(
            f"{what}: every entry must be 0 or s sign(g_j) with s = {s:g}; draw {t} has entry "
            f"[{i}] = {draws[t, i]:.6g}."
        )
    return kept.astype(float)


def _tern_law(kept: np.ndarray, g: np.ndarray, s: float, delta: float, what: str) -> list[str]:
    p = np.minimum(np.abs(g) / s, 1.0)
    labels = [f"keeping entry [{j}]" for j in range(g.size)]
    problems = marginal_problems(kept, p, delta / 2, labels, what)
    if problems and follows(kept, np.where(g != 0, 1 - p, 0.0), delta / 2):
        problems[0] += (
            " Likely cause: the Bernoulli is inverted (each entry is kept with probability "
            "1 - |g_j| / s, as the frequencies show)."
        )
    return problems or pair_problems(kept, p, delta / 2, labels, what, cause=shared_uniform(p))


@check(
    "c2.terngrad",
    points=2,
    problem="C2.4",
    title="TernGrad again: values, keep-probabilities, independence, the given rng",
    function="terngrad",
    calls=terngrad_calls,
)
def test_terngrad(sub: Sub) -> None:
    a, again, other, given_s, wide, small = sub.cases()
    g = a.args[0]
    top = float(np.max(np.abs(g)))
    s = float(given_s.args[1])
    what = f"terngrad({fmt(g)})"
    what_s = f"terngrad({fmt(g)}, s={s:g})"
    p = np.minimum(np.abs(g) / top, 1.0)

    def state(_: object) -> None:
        first, again_, other_ = (np.stack(c.value) for c in (a, again, other))
        _tern_kept(again_, g, top, what)  # the compared draws are TernGrad draws too
        _raise(rng_problems(first, again_, other_, what, p))

    def own_s(_: object) -> None:
        # the other-state draws are independent of the first stream: pooled into its law;
        # each test may fail a correct submission with probability FALSE_FAIL / 4
        draws = np.concatenate([np.stack(a.value), np.stack(other.value)])
        found = _tern_law(_tern_kept(draws, g, top, what), g, top, FALSE_FAIL / 4, what)
        # on a wide g, the birthday test (no call may repeat an earlier one) and the pooled
        # bias test, FALSE_FAIL / 8 each;
        # a reused draw first: it also explains law failures (fewer independent draws)
        w = np.asarray(wide.args[0], dtype=np.float64)
        w_top, what_w = float(np.max(np.abs(w))), f"terngrad({fmt(w)})"
        kept = _tern_kept(np.stack(wide.value), w, w_top, what_w)
        p_w = np.abs(w) / w_top
        repeats = repeat_problems(kept, p_w, FALSE_FAIL / 8, what_w)
        _raise((repeats or pooled_problems(kept, p_w, FALSE_FAIL / 8, what_w, "kept")) + found)

    def given(_: object) -> None:
        draws = np.stack(given_s.value)
        found = _tern_law(_tern_kept(draws, g, s, what_s), g, s, FALSE_FAIL / 4, what_s)
        # a given s below max |g|: the probability min(|g_j| / s, 1) caps at 1 there
        s_small = float(small.args[1])
        what_small = f"terngrad({fmt(g)}, s={s_small:g})"
        error = small.result.error if small.result.status == "error" else ""
        if "ValueError" in error and any(w in error for w in ("p > 1", "probabilit")):
            raise CheckFailure(
                f"{what_small} raised {error[:200]}\n  Likely cause: the keep-probability "
                "was not capped: with s below max |g_j| it is min(|g_j| / s, 1)."
            )
        kept = _tern_kept(np.stack(small.value), g, s_small, what_small)
        _raise(found + _tern_law(kept, g, s_small, FALSE_FAIL / 4, what_small))

    _state_first(state, [own_s, given], weights=[0.5, 0.5])
