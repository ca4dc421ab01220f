"""effdl.compression: top-k, 1-bit, QSGD, error feedback and Deep Gradient Compression (C2).

Stochastic functions are checked by their laws (value set, unbiasedness, variance) with
Hoeffding bounds; each such check states the false-fail probability it would have if its
seed were drawn at random (the seeds are fixed, so the verdicts are deterministic).
"""

import math

import numpy as np
import pytest

from effdl.compression import (
    DGC_WARMUP_SPARSITY,
    clip_by_norm,
    dense_bytes,
    dgc_sparsity,
    dgc_step,
    error_feedback_run,
    error_feedback_step,
    least_squares_workers,
    message_bytes,
    onebit_bytes,
    onebit_compress,
    onebit_decompress,
    onebit_quantize,
    qsgd_bytes,
    qsgd_level_bits,
    qsgd_quantize,
    qsgd_variance_bound,
    terngrad_bytes,
    topk_bytes,
    topk_compress,
    topk_count,
    topk_decompress,
    topk_sparsify,
    train_workers,
)

# Distinct magnitudes, mixed signs, one zero: the top 3 by |g| are -3.25, 3.0 and 2.5, the
# top 3 by signed value are 3.0, 2.5 and 1.75.
G = np.array([0.5, -3.25, 1.75, 0.0, -0.75, 2.5, -1.5, 1.0, -2.0, 0.25, 3.0, -1.25])


def hoeffding_epsilon(n: int, value_range: float, coordinates: int, fail_prob: float) -> float:
    """eps with P(some coordinate's mean of n independent draws in an interval of length
    value_range is off its expectation by >= eps) <= fail_prob (Hoeffding + union bound)."""
    return value_range * math.sqrt(math.log(2 * coordinates / fail_prob) / (2 * n))


# ---------------------------------------------------------------- top-k
@pytest.mark.parametrize(
    "n, ratio, k", [(12, 0.25, 3), (30, 0.1, 3), (10, 0.01, 1), (7, 1.0, 7), (9610, 0.001, 10)]
)
def test_topk_count_is_the_ceiling_without_float_noise(n, ratio, k):
    # 0.1 * 30 is 3.0000000000000004 in floating point: a bare ceil would keep 4.
    assert topk_count(n, ratio) == k


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.5])
def test_topk_count_rejects_bad_ratio(ratio):
    with pytest.raises(ValueError, match="ratio"):
        topk_count(10, ratio)


def test_topk_keeps_the_largest_magnitudes_not_the_largest_values():
    idx, vals = topk_compress(G, 0.25)
    assert idx.dtype == np.int64 and vals.dtype == np.float64
    np.testing.assert_array_equal(idx, [1, 5, 10])
    np.testing.assert_array_equal(vals, G[idx])
    # The mistake "top-k by signed value" keeps 10, 5, 2 and drops the -3.25.
    signed = np.sort(np.argsort(-G)[:3])
    assert not np.array_equal(signed, idx)


def test_topk_decompress_inverts_on_the_kept_entries():
    idx, vals = topk_compress(G.reshape(-1, 1), 0.5)
    dense = topk_decompress(idx, vals, G.size)
    assert dense.shape == (12,)
    np.testing.assert_array_equal(dense[idx], G[idx])
    assert np.count_nonzero(dense) == 6
    np.testing.assert_array_equal(topk_sparsify(G, 0.5), dense)


def test_topk_with_ties_keeps_a_valid_set():
    # Any choice among equal magnitudes is correct: every kept |g| >= every dropped |g|.
    g = np.array([1.0, -1.0, 1.0, 0.5, -1.0, 0.5])
    idx, vals = topk_compress(g, 0.5)
    dropped = np.setdiff1d(np.arange(g.size), idx)
    assert idx.size == 3 and np.min(np.abs(vals)) >= np.max(np.abs(g[dropped]))


def test_topk_decompress_rejects_bad_indices():
    with pytest.raises(ValueError, match="distinct"):
        topk_decompress(np.array([1, 1]), np.array([1.0, 2.0]), 4)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        topk_decompress(np.array([4]), np.array([1.0]), 4)


def test_compressors_do_not_mutate_their_input():
    g = G.copy()
    topk_compress(g, 0.25)
    onebit_compress(g)
    qsgd_quantize(g, 4, np.random.default_rng(0))
    dgc_step(g, np.zeros(12), np.zeros(12), 0.25)
    np.testing.assert_array_equal(g, G)


# ---------------------------------------------------------------- 1-bit
def test_onebit_groups_and_means():
    bits, pos, neg = onebit_compress(G)
    np.testing.assert_array_equal(bits, G >= 0)  # the zero is in the "+" group
    assert pos == pytest.approx(np.mean(G[G >= 0]), abs=1e-15)
    assert neg == pytest.approx(np.mean(G[G < 0]), abs=1e-15)
    rebuilt = onebit_decompress(bits, pos, neg)
    np.testing.assert_array_equal(rebuilt, np.where(G >= 0, pos, neg))
    # With group means the reconstruction keeps the sum of g exactly (up to rounding).
    assert rebuilt.sum() == pytest.approx(G.sum(), abs=1e-12)


def test_onebit_means_minimize_the_error_for_the_given_signs():
    bits, pos, neg = onebit_compress(G)
    best = np.sum((onebit_quantize(G) - G) ** 2)
    for dp, dn in [(0.01, 0), (-0.01, 0), (0, 0.01), (0, -0.01)]:
        assert np.sum((onebit_decompress(bits, pos + dp, neg + dn) - G) ** 2) > best
    # A per-tensor scale mean|g| (another valid rule, but not this one) differs here.
    assert not np.allclose(onebit_quantize(G), np.where(G >= 0, 1, -1) * np.mean(np.abs(G)))


def test_onebit_one_sided_vectors():
    bits, pos, neg = onebit_compress([-1.0, -3.0])
    assert not bits.any() and pos == 0.0 and neg == -2.0
    np.testing.assert_array_equal(onebit_quantize([2.0, 4.0]), [3.0, 3.0])


# ---------------------------------------------------------------- QSGD
V = np.array([0.9, -0.1, 0.35, 0.0, -0.6, 0.2, 0.05, -0.45])


def test_qsgd_values_lie_on_the_two_nearest_levels():
    rng = np.random.default_rng(3)
    s, norm = 4, np.linalg.norm(V)
    r = s * np.abs(V) / norm
    for _ in range(300):
        q = qsgd_quantize(V, s, rng)
        level = np.abs(q) * s / norm
        np.testing.assert_allclose(level, np.rint(level), atol=1e-9)  # whole levels
        assert np.all((level >= np.floor(r) - 1e-9) & (level <= np.floor(r) + 1 + 1e-9))
        assert np.all(np.sign(q)[q != 0] == np.sign(V)[q != 0])
        assert q[3] == 0.0


def test_qsgd_needs_a_generator_and_keeps_zero():
    with pytest.raises(TypeError, match="Generator"):
        qsgd_quantize(V, 4, 0)
    np.testing.assert_array_equal(qsgd_quantize(np.zeros(5), 2, np.random.default_rng(0)), 0)
    with pytest.raises(ValueError, match="s must"):
        qsgd_quantize(V, 0, np.random.default_rng(0))


def test_qsgd_is_unbiased_and_a_rounding_quantizer_is_not():
    # Entry i takes one of two values norm/s apart, so the draws lie in an interval of
    # length norm/s. n = 20000, 8 coordinates, false-fail probability 1e-9 (random seed).
    s, n = 2, 20000
    norm = np.linalg.norm(V)
    eps = hoeffding_epsilon(n, norm / s, V.size, 1e-9)
    rng = np.random.default_rng(11)
    total = np.zeros(V.size)
    for _ in range(n):
        total += qsgd_quantize(V, s, rng)
    assert np.max(np.abs(total / n - V)) < eps
    # A deterministic "round to the nearest level" quantizer is biased by far more than eps.
    nearest = norm * np.sign(V) * np.rint(s * np.abs(V) / norm) / s
    assert np.max(np.abs(nearest - V)) > 5 * eps


def test_qsgd_variance_matches_its_law_and_the_bound():
    # E||Q - v||^2 = (norm/s)^2 sum_i p_i (1 - p_i), p_i the fractional part of s|v_i|/norm.
    # Each entry's squared error is at most (norm/s)^2, so a draw of ||Q - v||^2 lies in
    # [0, n (norm/s)^2]; Hoeffding over 20000 draws, false-fail probability 1e-9.
    s, n_draws = 3, 20000
    norm = np.linalg.norm(V)
    frac = s * np.abs(V) / norm - np.floor(s * np.abs(V) / norm)
    exact = (norm / s) ** 2 * np.sum(frac * (1 - frac))
    assert exact <= qsgd_variance_bound(V.size, s) * norm**2
    rng = np.random.default_rng(5)
    errors = [np.sum((qsgd_quantize(V, s, rng) - V) ** 2) for _ in range(n_draws)]
    eps = hoeffding_epsilon(n_draws, V.size * (norm / s) ** 2, 1, 1e-9)
    assert abs(np.mean(errors) - exact) < eps


@pytest.mark.parametrize("n, s, bound", [(100, 1, 10.0), (100, 20, 0.25), (16, 2, 2.0)])
def test_qsgd_variance_bound_formula(n, s, bound):
    assert qsgd_variance_bound(n, s) == pytest.approx(bound)


# ---------------------------------------------------------------- bytes
def test_message_sizes():
    assert dense_bytes(1000) == 4000
    assert topk_bytes(10) == 80  # int32 index + float32 value
    assert onebit_bytes(1000) == 125 + 8 and onebit_bytes(9) == 2 + 8
    assert qsgd_level_bits(1) == 1 and qsgd_level_bits(4) == 3 and qsgd_level_bits(7) == 3
    assert qsgd_bytes(1000, 4) == 4 + 500  # sign + 3-bit level per entry
    assert terngrad_bytes(1000) == 4 + 250 and terngrad_bytes(5) == 4 + 2
    assert message_bytes("topk", 9610, ratio=0.001) == 80
    with pytest.raises(ValueError, match="unknown method"):
        message_bytes("zip", 10)


# ---------------------------------------------------------------- error feedback
def _grads(T: int = 25, n: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((T, n)) * np.linspace(0.1, 3, 40)


@pytest.mark.parametrize(
    "roundtrip",
    [
        lambda p: topk_sparsify(p, 0.1),
        onebit_quantize,
        lambda p: qsgd_quantize(p, 2, np.random.default_rng(int(abs(p[0]) * 1e6))),
    ],
    ids=["topk", "onebit", "qsgd"],
)
def test_error_feedback_invariant(roundtrip):
    grads = _grads()
    e0 = np.linspace(-1, 1, 40)
    sent, e_final = error_feedback_run(grads, roundtrip, e0)
    assert sent.shape == grads.shape and e_final.shape == (40,)
    np.testing.assert_allclose(sent.sum(0) + e_final, grads.sum(0) + e0, rtol=0, atol=1e-10)


def test_error_feedback_step_definition():
    g, e = G, np.full(12, 0.5)
    sent, e_new = error_feedback_step(g, e, lambda p: topk_sparsify(p, 0.25))
    p = g + e
    np.testing.assert_array_equal(sent, topk_sparsify(p, 0.25))
    np.testing.assert_array_equal(e_new, p - sent)


def test_error_feedback_mistakes_break_the_invariant():
    grads = _grads()

    def topk(p):
        return topk_sparsify(p, 0.1)

    def gap(step) -> float:
        """max |sum(sent) + e_final - sum(g)| over the coordinates, from e_0 = 0."""
        e, total = np.zeros(40), np.zeros(40)
        for g in grads:
            sent, e = step(g, e)
            total += sent
        return float(np.max(np.abs(total + e - grads.sum(0))))

    assert gap(lambda g, e: error_feedback_step(g, e, topk)) < 1e-10
    # Residual not carried: each step starts again from e = 0.
    assert gap(lambda g, e: error_feedback_step(g, np.zeros(40), topk)) > 1.0
    # Residual not subtracted: e <- p instead of p - sent.
    assert gap(lambda g, e: (topk(g + e), g + e)) > 1.0


# ---------------------------------------------------------------- DGC
def test_dgc_fixed_sequence_by_hand():
    # n = 4, ratio 0.25 (k = 1), momentum 0.5, no clipping.
    u = v = np.zeros(4)
    idx, vals, u, v = dgc_step([1.0, 2.0, -3.0, 0.5], u, v, 0.25, momentum=0.5)
    # u = v = g; the largest |v| is -3 (index 2); masking zeros index 2 of u and v.
    np.testing.assert_array_equal(idx, [2])
    np.testing.assert_array_equal(vals, [-3.0])
    np.testing.assert_array_equal(u, [1.0, 2.0, 0.0, 0.5])
    np.testing.assert_array_equal(v, [1.0, 2.0, 0.0, 0.5])
    idx, vals, u, v = dgc_step([1.0, 1.0, 1.0, 1.0], u, v, 0.25, momentum=0.5)
    # u = 0.5 u + g = [1.5, 2, 1, 1.25]; v = v + u = [2.5, 4, 1, 1.75]; send index 1.
    np.testing.assert_array_equal(idx, [1])
    np.testing.assert_array_equal(vals, [4.0])
    np.testing.assert_array_equal(u, [1.5, 0.0, 1.0, 1.25])
    np.testing.assert_array_equal(v, [2.5, 0.0, 1.0, 1.75])
    idx, vals, u, v = dgc_step([0.0, 0.0, 0.0, -1.0], u, v, 0.25, momentum=0.5)
    # u = [0.75, 0, 0.5, -0.375]; v = [3.25, 0, 1.5, 1.375]; send index 0.
    np.testing.assert_array_equal(idx, [0])
    np.testing.assert_array_equal(vals, [3.25])
    np.testing.assert_array_equal(u, [0.0, 0.0, 0.5, -0.375])
    np.testing.assert_array_equal(v, [0.0, 0.0, 1.5, 1.375])


def _dgc_mistaken(grads, mask: bool, correct: bool) -> tuple:
    """DGC with masking or momentum correction optionally left out (k = 1, momentum 0.5):
    (what each step sends as (index, value), final u, final v)."""
    u = v = np.zeros(4)
    out = []
    for g in grads:
        g = np.asarray(g, dtype=float)
        u = 0.5 * u + g
        v = v + (u if correct else g)
        i = int(np.argmax(np.abs(v)))
        out.append((i, float(v[i])))
        v = v.copy()
        v[i] = 0.0
        if mask:
            u = u.copy()
            u[i] = 0.0
    return out, u.tolist(), v.tolist()


def test_dgc_fixed_sequence_tells_the_mistakes_apart():
    grads = [[1.0, 2.0, -3.0, 0.5], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, -1.0]]
    u = v = np.zeros(4)
    sent = []
    for g in grads:
        idx, vals, u, v = dgc_step(g, u, v, 0.25, momentum=0.5)
        sent.append((int(idx[0]), float(vals[0])))
    ours = (sent, u.tolist(), v.tolist())
    assert ours == _dgc_mistaken(grads, mask=True, correct=True)
    assert ours != _dgc_mistaken(grads, mask=False, correct=True)  # momentum not masked
    assert ours != _dgc_mistaken(grads, mask=True, correct=False)  # momentum not corrected


def test_dgc_with_ratio_one_sends_the_gradient():
    # Everything is sent and masked every step, so no momentum survives a step: plain SGD.
    rng = np.random.default_rng(2)
    u = v = np.zeros(6)
    for _ in range(5):
        g = rng.standard_normal(6)
        idx, vals, u, v = dgc_step(g, u, v, 1.0, momentum=0.9)
        np.testing.assert_array_equal(topk_decompress(idx, vals, 6), g)
        assert not u.any() and not v.any()


def test_dgc_local_clipping_scales_the_threshold_by_workers():
    g = np.array([3.0, 4.0])  # norm 5
    idx, vals, u, v = dgc_step(g, np.zeros(2), np.zeros(2), 1.0, clip_norm=4.0, n_workers=4)
    # Threshold 4 / sqrt(4) = 2: the sent vector is g scaled to norm 2.
    np.testing.assert_allclose(topk_decompress(idx, vals, 2), [1.2, 1.6], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(clip_by_norm(g, 10.0), g)


def test_dgc_sparsity_warmup():
    got = [dgc_sparsity(e) for e in range(6)]
    np.testing.assert_allclose(got[:4], [0.75, 0.9375, 0.984375, 0.99609375], rtol=0, atol=0)
    assert got[4] == got[5] == 0.999
    assert tuple(got[:4]) == DGC_WARMUP_SPARSITY
    assert dgc_sparsity(0, warmup_epochs=0) == 0.999
    assert dgc_sparsity(3, final_sparsity=0.99) == 0.99  # warm-up never passes the final value


# ---------------------------------------------------------------- the lesson, simulated
def _problem():
    A, b = least_squares_workers(4, 20, 30, np.random.default_rng(0))
    hess = np.einsum("krd,kre->de", A, A) / (4 * 20)
    return A, b, 0.05 / np.linalg.eigvalsh(hess).max()


def test_error_feedback_rescues_topk_and_onebit():
    A, b, lr = _problem()
    rel = {}
    for method in ("topk", "onebit"):
        for ef in (False, True):
            run = train_workers(A, b, method, lr, 1500, error_feedback=ef, ratio=0.1)
            rel[method, ef] = run["distance"][-1] / run["distance"][0]
    plain = train_workers(A, b, "none", lr, 1500)
    assert plain["distance"][-1] < 1e-2 * plain["distance"][0]
    for method in ("topk", "onebit"):
        assert rel[method, False] > 0.2, rel  # stalls far from the optimum
        assert rel[method, True] < 0.05, rel  # reaches its neighbourhood
        assert rel[method, False] > 8 * rel[method, True], rel


def test_train_workers_dgc_and_momentum_and_bytes():
    A, b, lr = _problem()
    dgc = train_workers(A, b, "dgc", lr, 50, ratio=1.0, momentum=0.9)
    plain = train_workers(A, b, "none", lr, 50)
    np.testing.assert_allclose(dgc["w"], plain["w"], rtol=0, atol=1e-10)
    # Dense momentum SGD is w <- w - lr u with u <- 0.9 u + mean gradient.
    mom = train_workers(A, b, "momentum", lr, 3, momentum=0.9)
    w, u = np.zeros(30), np.zeros(30)
    for _ in range(3):
        g = np.einsum("krd,kr->d", A, np.einsum("krd,d->kr", A, w) - b) / (4 * 20)
        u = 0.9 * u + g
        w = w - lr * u
    np.testing.assert_allclose(mom["w"], w, rtol=0, atol=1e-12)
    assert train_workers(A, b, "topk", lr, 1, ratio=0.1)["bytes_per_step"] == 8 * 3
    assert dgc["loss"].shape == (51,) and dgc["distance"].shape == (51,)
