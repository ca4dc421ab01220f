"""Hidden checks for C2: top-k, 1-bit, QSGD and TernGrad as functions on arrays.

Deterministic compressors are compared with effdl on the student's own gradient and on
inputs the grader chose (ties at the top-k cut: every valid choice passes). The random ones
are checked by their laws (laws.py), never by one random stream.
"""

from __future__ import annotations

import numpy as np

from autograder.checking.compare import Mistake, as_array, assert_close, describe, fmt
from autograder.checking.credit import credit_parts
from autograder.checking.spec import Call, Rng, check
from autograder.checking.stats import hoeffding_radius
from autograder.checking.sub import Case, Sub, tuple_of
from autograder.checking.trajectory import selections, tie_tol
from autograder.checking.verdict import CheckFailure
from effdl import compression as ref

from .laws import FALSE_FAIL, marginal_problems, pair_problems, rng_problems

RTOL, ATOL = 1e-5, 1e-7  # float32 arithmetic on these sizes stays far inside this

# Grader-chosen inputs that no notebook shows.
TOPK_TIES = np.array([1.0, -2.0, 2.0, 0.5, -2.0, 3.0, 0.0, -0.5])  # k = 3: two of three |2|
TOPK_LONG = np.array(
    [0.0, 0.3, -0.27, -0.89, -0.45, -0.99, 0.06, 1.34, -0.49, -0.62, 0.49, 0.36, 0.11, -0.93,
     -0.03, 0.7, -1.34, -0.46, -1.9, -1.29, -1.84, -0.24, -1.27, 0.27, 0.16, -0.19, -2.52,
     -0.54, -0.05, 0.11]
)  # fmt: skip
ONEBIT_POSITIVE = np.array([0.5, 2.0, 0.0, 1.5])  # no "-" group: its mean is 0
ONEBIT_PROBE = np.array([-1.5, 0.25, 3.0, -0.5, 0.0, -2.0, 1.25])
# Fractional parts of s |v_i| / ||v|| between 0.36 and 0.74 (s = 4): every draw is informative.
QSGD_V = np.array([-0.73, 0.11, 0.15, 0.0, 0.43, 0.11, -0.15, 0.83])
QSGD_V1 = np.array([0.88, -0.42, -0.85, 1.85, -0.94, 0.86])  # s = 1: |v_i| / ||v|| in (0.16, 0.72)
QSGD_DRAWS = 3000
TERN_G = np.array([-3.0, 1.0, 0.5, 4.0, 0.0, -2.2, 1.7, -0.9])  # own s = 4: p from 0 to 1
TERN_DRAWS = 3000
AGAIN = 50  # draws of the same-seed call


def _g(variant: dict) -> np.ndarray:
    return np.array(variant["c2"]["g"], dtype=np.float64)


# --------------------------------------------------------------------------- top-k
def topk_calls(variant: dict) -> list[Call]:
    ratio = float(variant["c2"]["ratio"])
    return [
        Call("c2.topk.own", "topk_compress", (_g(variant), ratio)),
        Call("c2.topk.ties", "topk_compress", (TOPK_TIES, 0.3)),
        Call("c2.topk.column", "topk_compress", (TOPK_LONG.reshape(-1, 1), 0.1)),
        Call("c2.topk.all", "topk_compress", (TOPK_TIES[:5], 1.0)),
    ]


def _indices(value: object, n: int, k: int, what: str) -> np.ndarray:
    idx = as_array(value, f"{what}: indices")
    idx = idx.reshape(-1) if idx.ndim == 2 and 1 in idx.shape else idx
    if idx.ndim != 1 or idx.size != k:
        raise CheckFailure(
            f"{what}: expected k = topk_count({n}, ratio) = {k} indices, got {describe(idx)}."
            + (
                " Likely cause: k computed another way; use topk_count, which rounds up"
                " (k = ceil(ratio * n))."
                if idx.ndim == 1 and abs(idx.size - k) == 1
                else ""
            )
        )
    if not np.all(idx == np.round(idx)) or idx.min() < 0 or idx.max() >= n:
        raise CheckFailure(f"{what}: indices must be integers in [0, {n}), got {fmt(idx)}.")
    idx = idx.astype(np.int64)
    if np.unique(idx).size != k:
        raise CheckFailure(f"{what}: the indices {fmt(idx)} repeat an entry.")
    return idx


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
        n, k = g.size, ref.topk_count(g.size, ratio)
        what = f"topk_compress({fmt(g)}, ratio={ratio:g})"
        raw_idx, raw_vals = tuple_of(case.value, 2, what)
        idx = _indices(raw_idx, n, k, what)
        sets = selections(np.abs(g), k, largest=True, tol=tie_tol(g))
        if tuple(sorted(idx.tolist())) not in sets:
            wrong = {
                "the k largest signed values were kept; rank the entries by |g_i|.": np.argsort(
                    -g, kind="stable"
                )[:k],
                "the first k entries by index were kept, not the k largest |g_i|.": np.arange(k),
                "the k SMALLEST |g_i| were kept.": np.argsort(np.abs(g), kind="stable")[:k],
            }
            cause = next(
                (c for c, alt in wrong.items() if set(alt.tolist()) == set(idx.tolist())), ""
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

    credit_parts(sub.cases(), one)


def topk_decompress_calls(variant: dict) -> list[Call]:
    return [
        Call(
            "c2.untopk.1", "topk_decompress", (np.array([5, 1, 3]), np.array([2.5, -1.0, 4.0]), 7)
        ),
        Call("c2.untopk.2", "topk_decompress", (np.array([0, 9]), np.array([-0.5, 0.75]), 10)),
    ]


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
def onebit_calls(variant: dict) -> list[Call]:
    return [
        Call("c2.onebit.own", "onebit_compress", (_g(variant),)),
        Call("c2.onebit.probe", "onebit_compress", (ONEBIT_PROBE.reshape(-1, 1),)),
        Call("c2.onebit.positive", "onebit_compress", (ONEBIT_POSITIVE,)),
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
        raw_bits, pos, neg = tuple_of(case.value, 3, what)
        bits = as_array(raw_bits, f"{what}: bits", g.shape)
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
            raise CheckFailure(
                f"{what}: expected bits (g >= 0) = {fmt(want_bits)}, got {fmt(bits.astype(bool))}."
                + cause
            )
        got = as_array([pos, neg], f"{what}: (pos_mean, neg_mean)", (2,))
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
            got,
            [want_pos, want_neg],
            rtol=RTOL,
            atol=ATOL,
            what=f"{what}: (pos_mean, neg_mean) (an empty group's mean is 0)",
            mistakes=mistakes,
        )

    credit_parts(sub.cases(), one)


def onebit_decompress_calls(variant: dict) -> list[Call]:
    bits = np.array([True, False, False, True, True])
    return [
        Call("c2.unbit.1", "onebit_decompress", (bits, 1.5, -0.25)),
        Call("c2.unbit.2", "onebit_decompress", (np.array([False, False, True]), 0.0, -2.0)),
    ]


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
def _draws(value: object, count: int, n: int, what: str) -> np.ndarray:
    if not isinstance(value, list) or len(value) != count:
        raise CheckFailure(f"{what}: the harness expected {count} draws.")
    return np.stack([as_array(v, what, (n,)) for v in value])


def qsgd_calls(variant: dict) -> list[Call]:
    s = int(variant["c2"]["qsgd_s"])
    many = {"repeat": QSGD_DRAWS, "timeout": 30}
    return [
        Call("c2.qsgd.a", "qsgd_quantize", (QSGD_V, s), {"rng": Rng(21)}, **many),
        Call("c2.qsgd.again", "qsgd_quantize", (QSGD_V, s), {"rng": Rng(21)}, repeat=AGAIN),
        Call("c2.qsgd.b", "qsgd_quantize", (QSGD_V, s), {"rng": Rng(22)}, **many),
        Call("c2.qsgd.s1", "qsgd_quantize", (QSGD_V1.reshape(-1, 1), 1), {"rng": Rng(23)}, **many),
        Call("c2.qsgd.zero", "qsgd_quantize", (np.zeros(5), s), {"rng": Rng(24)}),
    ]


def _qsgd_law(draws: np.ndarray, v: np.ndarray, s: int, delta: float, what: str) -> list[str]:
    """Value set, marginals (the probability of rounding up), independence, variance bound."""
    norm = float(np.linalg.norm(v))
    r = s * np.abs(v) / norm
    low = np.floor(r)
    unit = norm / s
    level = np.abs(draws) / unit  # each entry's level l_i or l_i + 1, times sign(v_i)
    signs_ok = np.all((np.sign(draws) == np.sign(v)) | (draws == 0), axis=0)
    up = np.isclose(level, low + 1, rtol=0, atol=1e-6)
    down = np.isclose(level, low, rtol=0, atol=1e-6)
    if not (np.all(up | down) and np.all(signs_ok)):
        t, i = (int(x) for x in np.argwhere(~((up | down) & signs_ok))[0])
        cause = ""
        if np.allclose(np.abs(draws[t]), np.abs(np.round(r) * unit)):
            cause = "\n  Likely cause: rounding to the nearest level; QSGD rounds at random."
        mx = float(np.max(np.abs(v)))
        if np.all(np.isclose(np.abs(draws[t]) * s / mx % 1, 0, atol=1e-6) | (draws[t] == 0)):
            cause = "\n  Likely cause: the levels are scaled by max |v_i|; QSGD uses ||v||_2."
        return [
            f"{what}: every entry must be ||v||_2 sign(v_i) l / s with l = floor(s |v_i| / "
            f"||v||_2) or that plus 1; draw {t} has entry [{i}] = {draws[t, i]:.6g} (allowed "
            f"{np.sign(v[i]) * low[i] * unit:.6g} or {np.sign(v[i]) * (low[i] + 1) * unit:.6g})."
            + cause
        ]
    p = r - low
    labels = [f"rounding entry [{i}] up" for i in range(v.size)]
    problems = marginal_problems(up.astype(float), p, delta / 3, labels, what)
    if problems:
        mean = draws.mean(axis=0)
        worst = int(np.argmax(np.abs(mean - v)))
        problems[0] += (
            f" So the quantizer is biased: the mean of entry [{worst}] is {mean[worst]:.4f}, "
            f"E[Q(v)_i] = v_i = {v[worst]:g}."
        )
        freq = up.mean(axis=0)
        if np.all((freq == 0) | (freq == 1)) and np.array_equal(freq, np.round(r) > low):
            problems[0] += (
                " Likely cause: rounding to the nearest level; QSGD rounds up at random, with "
                "probability r_i - l_i, which is what makes it unbiased."
            )
        elif np.allclose(freq[p > 0], 1 - p[p > 0], atol=0.05):
            problems[0] += " Likely cause: the probability is inverted (up with 1 - p)."
        return problems
    problems += pair_problems(up.astype(float), p, delta / 3, labels, what)
    sq = np.sum((draws - v) ** 2, axis=1)
    bound = ref.qsgd_variance_bound(v.size, s) * norm**2
    eps = hoeffding_radius(sq.size, v.size * unit**2, delta / 3)
    if sq.mean() > bound + eps:
        problems.append(
            f"{what}: E||Q(v) - v||^2 must be at most min(n/s^2, sqrt(n)/s) ||v||^2 = "
            f"{bound:.4f}; the draws give {sq.mean():.4f} (allowed {eps:.4f} above the bound)."
        )
    return problems


@check(
    "c2.qsgd",
    points=5,
    problem="C2.3",
    title="QSGD: levels, unbiasedness, independence, variance bound, the given rng",
    function="qsgd_quantize",
    calls=qsgd_calls,
)
def test_qsgd(sub: Sub) -> None:
    a, again, b, s1, zero = sub.cases()
    s = int(a.args[1])
    what = f"qsgd_quantize(v={fmt(QSGD_V)}, s={s})"
    first = _draws(a.value, QSGD_DRAWS, QSGD_V.size, what)
    second = _draws(b.value, QSGD_DRAWS, QSGD_V.size, what)
    both = np.concatenate([first, second])
    sub.add_plot(
        "C2.3",
        "C2.3 QSGD: the mean of each entry over 6000 draws, against v",
        {"mean of Q(v)": both.mean(axis=0)},
        {"v": QSGD_V},
        x_label="entry i",
    )
    # Laws on the two independent streams together; the false-fail probability of the
    # check is at most FALSE_FAIL (split between its two law tests), and two correct streams
    # of 3000 x 7 non-degenerate draws coincide with probability below 0.75^21000.
    parts = [
        lambda: _qsgd_law(both, QSGD_V, s, FALSE_FAIL / 2, what),
        lambda: rng_problems(first, _draws(again.value, AGAIN, QSGD_V.size, what), second, what),
        lambda: _qsgd_law(
            _draws(s1.value, QSGD_DRAWS, QSGD_V1.size, "qsgd_quantize(column v, s=1)"),
            QSGD_V1,
            1,
            FALSE_FAIL / 2,
            f"qsgd_quantize(v={fmt(QSGD_V1)} as a column, s=1)",
        ),
        lambda: _zero_part(zero),
    ]

    def run(part) -> None:
        problems = part()
        if problems:
            raise CheckFailure("\n".join(problems))

    credit_parts(parts, run, weights=[0.45, 0.2, 0.25, 0.1])


def _zero_part(case: Case) -> list[str]:
    got = as_array(case.value, "qsgd_quantize(zeros, s)", (5,))
    return (
        []
        if np.all(got == 0)
        else [f"qsgd_quantize of a zero vector must be zeros, got {fmt(got)}."]
    )


# --------------------------------------------------------------------------- TernGrad
def terngrad_calls(variant: dict) -> list[Call]:
    many = {"repeat": TERN_DRAWS, "timeout": 30}
    return [
        Call("c2.tern.a", "terngrad", (TERN_G,), {"rng": Rng(31)}, **many),
        Call("c2.tern.again", "terngrad", (TERN_G,), {"rng": Rng(31)}, repeat=AGAIN),
        Call("c2.tern.other", "terngrad", (TERN_G,), {"rng": Rng(33)}, repeat=AGAIN),
        Call("c2.tern.given_s", "terngrad", (TERN_G, 5.0), {"rng": Rng(32)}, **many),
    ]


def _tern_law(draws: np.ndarray, g: np.ndarray, s: float, delta: float, what: str) -> list[str]:
    full = s * np.sign(g)
    kept = np.isclose(draws, full, rtol=0, atol=1e-6 * s) & (g != 0)
    if not np.all(kept | (draws == 0)):
        t, i = (int(x) for x in np.argwhere(~(kept | (draws == 0)))[0])
        return [
            f"{what}: every entry must be 0 or s sign(g_j) with s = {s:g}; draw {t} has entry "
            f"[{i}] = {draws[t, i]:.6g}."
        ]
    p = np.minimum(np.abs(g) / s, 1.0)
    labels = [f"keeping entry [{j}]" for j in range(g.size)]
    problems = marginal_problems(kept.astype(float), p, delta / 2, labels, what)
    free = (p > 0) & (p < 1)
    if problems and np.allclose(kept.mean(axis=0)[free], 1 - p[free], atol=0.05):
        problems[0] += " Likely cause: the Bernoulli is inverted (keep with 1 - |g_j| / s)."
    return problems or pair_problems(kept.astype(float), p, delta / 2, labels, what)


@check(
    "c2.terngrad",
    points=2,
    problem="C2.4",
    title="TernGrad again: values, keep-probabilities, independence, the given rng",
    function="terngrad",
    calls=terngrad_calls,
)
def test_terngrad(sub: Sub) -> None:
    a, again, other, given_s = sub.cases()
    n = TERN_G.size
    what = f"terngrad({fmt(TERN_G)})"
    first = _draws(a.value, TERN_DRAWS, n, what)
    # each law test may fail a correct submission with probability FALSE_FAIL / 2; two
    # correct streams of 50 draws of 6 random entries coincide with probability < 0.79^300
    problems = _tern_law(first, TERN_G, float(np.max(np.abs(TERN_G))), FALSE_FAIL / 2, what)
    problems += _tern_law(
        _draws(given_s.value, TERN_DRAWS, n, f"terngrad({fmt(TERN_G)}, s=5)"),
        TERN_G,
        5.0,
        FALSE_FAIL / 2,
        f"terngrad({fmt(TERN_G)}, s=5)",
    )
    problems += rng_problems(
        first, _draws(again.value, AGAIN, n, what), _draws(other.value, AGAIN, n, what), what
    )
    if problems:
        raise CheckFailure("\n".join(problems))
