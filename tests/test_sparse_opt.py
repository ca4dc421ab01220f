"""effdl.sparse_opt: GD, iterative pruning, L1, proximal and trimmed L1 (HOMEWORK A3)."""

import numpy as np
import pytest

from effdl.sparse_opt import (
    loss_and_grad,
    project_top_k,
    soft_threshold,
    train_sparse,
    trimmed_soft_threshold,
)

X = np.array(
    [[1.0, -2.0, -1.0, -1.0, 1.0], [2.0, -1.0, 2.0, 0.0, -2.0], [-1.0, 0.0, 2.0, 2.0, 1.0]]
)
Y = np.array([7.0, 1.0, 1.0])
TRUTH = np.array([0.0, -3.0, 0.0, 0.0, 1.0])
GD_FINAL = np.array([0.74759615, -2.38942308, 0.12259615, -0.03125, 1.56490385])
TRIMMED_TS = [0.02, 0.04, 0.1, 0.2]
ALL_RUNS = (
    [("gd", {}), ("prune", {})]
    + [("l1", {"lam": lam}) for lam in (0.2, 0.5, 1.0, 2.0)]
    + [("prox", {"threshold": t}) for t in (0.004, 0.01, 0.02, 0.04)]
    + [("trimmed", {"threshold": t}) for t in TRIMMED_TS]
    + [("trimmed_w", {"threshold": t}) for t in TRIMMED_TS]
)


# ---------------------------------------------------------------- loss and gradient
def test_loss_and_grad_at_zero():
    loss, grad = loss_and_grad(np.zeros(5), X, Y)
    assert loss == pytest.approx(51.0, abs=1e-12)  # 49 + 1 + 1: a SUM over the data points
    # -2 X^T y with X^T y = [8, -15, -3, -5, 6].
    np.testing.assert_allclose(grad, [-16.0, 30.0, 6.0, 10.0, -12.0], rtol=0, atol=1e-12)
    assert isinstance(loss, float) and grad.shape == (5,) and grad.dtype == np.float64


def test_loss_and_grad_matches_finite_differences():
    rng = np.random.default_rng(0)
    for _ in range(5):
        W = rng.normal(size=5)
        L, grad = loss_and_grad(W, X, Y)
        h = 1e-6
        numeric = [
            (loss_and_grad(W + h * e, X, Y)[0] - loss_and_grad(W - h * e, X, Y)[0]) / (2 * h)
            for e in np.eye(5)
        ]
        # Central differences of a quadratic are exact up to rounding: ~L * 1e-16 / h.
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)


def test_loss_and_grad_accepts_columns_and_lists():
    W = np.arange(5.0).reshape(5, 1)
    L1, g1 = loss_and_grad(W, X.tolist(), Y.reshape(3, 1))
    L2, g2 = loss_and_grad(W.ravel(), X, Y)
    assert L1 == L2 and g1.shape == (5,)
    np.testing.assert_array_equal(g1, g2)


def test_loss_and_grad_shape_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(5,\) or \(5, 1\).*\(4,\)"):
        loss_and_grad(np.zeros(4), X, Y)
    with pytest.raises(ValueError, match=r"\(5,\) or \(5, 1\).*\(5, 5\)"):
        loss_and_grad(np.zeros((5, 5)), X, Y)


# ---------------------------------------------------------------- projection and thresholds
def test_project_top_k_keeps_largest_magnitudes_not_first_indices():
    W = np.array([0.1, 5.0, -0.2, -3.0, 0.0])
    np.testing.assert_array_equal(project_top_k(W, 2), [0.0, 5.0, 0.0, -3.0, 0.0])
    np.testing.assert_array_equal(project_top_k(W, 0), np.zeros(5))
    np.testing.assert_array_equal(project_top_k(W, 9), W)


def test_project_top_k_ties_go_to_the_lower_index():
    W = np.array([1.0, -2.0, 2.0, -1.0, 2.0])
    np.testing.assert_array_equal(project_top_k(W, 2), [0.0, -2.0, 2.0, 0.0, 0.0])
    np.testing.assert_array_equal(project_top_k(W, 4), [1.0, -2.0, 2.0, 0.0, 2.0])


def test_project_top_k_returns_a_new_vector():
    W = np.array([[3.0], [1.0], [2.0]])
    out = project_top_k(W, 1)
    assert out.shape == (3,)
    np.testing.assert_array_equal(W.ravel(), [3.0, 1.0, 2.0])


def test_project_top_k_rejects_bad_k():
    for k in (-1, 1.5):
        with pytest.raises(ValueError, match="k"):
            project_top_k(np.ones(3), k)


def test_soft_threshold():
    v = np.array([-3.0, -0.5, 0.0, 0.2, 1.5])
    np.testing.assert_allclose(soft_threshold(v, 0.5), [-2.5, 0.0, 0.0, 0.0, 1.0], atol=1e-15)
    np.testing.assert_array_equal(soft_threshold(v, 0.0), v)
    with pytest.raises(ValueError, match="threshold"):
        soft_threshold(v, -0.1)


def test_trimmed_soft_threshold_touches_only_the_smallest_magnitudes():
    v = np.array([-5.0, 0.1, -0.25, 3.0, 0.05])
    out = trimmed_soft_threshold(v, 0.2)
    # Smallest |v|: 0.05, 0.1, 0.25 -> thresholded; -5 and 3 stay (no shrinkage of the
    # large entries, unlike thresholding all entries).
    np.testing.assert_allclose(out, [-5.0, 0.0, -0.05, 3.0, 0.0], rtol=0, atol=1e-15)
    # Choosing by signed value would shrink -5 instead; by |v| it stays.
    assert out[0] == -5.0
    np.testing.assert_array_equal(v, [-5.0, 0.1, -0.25, 3.0, 0.05])  # input untouched


def test_trimmed_soft_threshold_ties_and_n_trim():
    v = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(trimmed_soft_threshold(v, 0.5), [0.5, 0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(trimmed_soft_threshold(v, 0.5, n_trim=1), [0.5, 1, 1, 1, 1])
    np.testing.assert_array_equal(trimmed_soft_threshold(v, 0.5, n_trim=0), v)
    np.testing.assert_allclose(trimmed_soft_threshold(v, 0.5, n_trim=9), np.full(5, 0.5))
    with pytest.raises(ValueError, match="n_trim"):
        trimmed_soft_threshold(v, 0.5, n_trim=-1)


# ---------------------------------------------------------------- canonical runs (HOMEWORK A3)
def test_run_shapes_and_start_for_every_method():
    for method, kwargs in ALL_RUNS:
        W_hist, L_hist = train_sparse(X, Y, method, **kwargs)
        assert W_hist.shape == (201, 5) and L_hist.shape == (201,), method
        assert W_hist.dtype == np.float64 and L_hist.dtype == np.float64
        np.testing.assert_array_equal(W_hist[0], np.zeros(5))
        assert L_hist[0] == pytest.approx(51.0, abs=1e-12)


def test_loss_history_is_the_data_loss_of_each_iterate():
    for method, kwargs in ALL_RUNS:
        W_hist, L_hist = train_sparse(X, Y, method, steps=30, **kwargs)
        expected = [loss_and_grad(W, X, Y)[0] for W in W_hist]
        np.testing.assert_allclose(L_hist, expected, rtol=1e-10, atol=1e-12)


def test_plain_gd_reaches_the_minimum_norm_solution():
    W_hist, L_hist = train_sparse(X, Y, "gd")
    np.testing.assert_allclose(W_hist[-1], GD_FINAL, rtol=0, atol=5e-9)  # HOMEWORK: 8 decimals
    min_norm = X.T @ np.linalg.solve(X @ X.T, Y)
    np.testing.assert_allclose(W_hist[-1], min_norm, rtol=0, atol=1e-12)
    assert L_hist[-1] < 1e-25  # HOMEWORK: L ~ 1e-30
    assert np.all(np.abs(W_hist[-1]) > 0.03)  # not sparse


def test_iterative_pruning_reaches_the_sparse_truth():
    W_hist, L_hist = train_sparse(X, Y, "prune")
    np.testing.assert_allclose(W_hist[-1], TRUTH, rtol=0, atol=1e-12)
    assert L_hist[-1] < 1e-25
    assert np.all(np.count_nonzero(W_hist, axis=1) <= 2)


def test_pruning_step_projects_the_gradient_step():
    W_hist, _ = train_sparse(X, Y, "prune", steps=20)
    for W, W_next in zip(W_hist[:-1], W_hist[1:]):
        v = W - 0.02 * loss_and_grad(W, X, Y)[1]
        np.testing.assert_allclose(W_next, project_top_k(v, 2), rtol=0, atol=1e-14)


def test_l1_subgradient_step():
    lam = 0.5
    W_hist, _ = train_sparse(X, Y, "l1", lam=lam, steps=10)
    for W, W_next in zip(W_hist[:-1], W_hist[1:]):
        expected = W - 0.02 * (loss_and_grad(W, X, Y)[1] + lam * np.sign(W))
        np.testing.assert_allclose(W_next, expected, rtol=0, atol=1e-14)
    # sign(0) = 0: the first step from W = 0 is the plain gradient step.
    np.testing.assert_allclose(W_hist[1], 0.02 * 2 * X.T @ Y, rtol=0, atol=1e-14)


def test_prox_step_is_soft_thresholding_only():
    # Mistake: applying the subgradient AND the soft threshold.
    t = 0.02
    W_hist, _ = train_sparse(X, Y, "prox", threshold=t, steps=20)
    for W, W_next in zip(W_hist[:-1], W_hist[1:]):
        v = W - 0.02 * loss_and_grad(W, X, Y)[1]
        np.testing.assert_allclose(W_next, soft_threshold(v, t), rtol=0, atol=1e-14)


def test_prox_and_trimmed_take_threshold_from_lam():
    for method in ("prox", "trimmed", "trimmed_w"):
        by_t, _ = train_sparse(X, Y, method, threshold=0.02)
        by_lam, _ = train_sparse(X, Y, method, lam=1.0)  # t = mu * lam = 0.02
        np.testing.assert_array_equal(by_t, by_lam)
        both, _ = train_sparse(X, Y, method, lam=1.0, threshold=0.02)
        np.testing.assert_array_equal(both, by_t)


@pytest.mark.parametrize("t", TRIMMED_TS)
@pytest.mark.parametrize("method", ["trimmed", "trimmed_w"])
def test_trimmed_l1_reaches_the_sparse_truth(method, t):
    W_hist, L_hist = train_sparse(X, Y, method, threshold=t)
    np.testing.assert_allclose(W_hist[-1], TRUTH, rtol=0, atol=1e-9)
    assert L_hist[-1] < 1e-20


def test_trimmed_step_thresholds_the_three_smallest_of_v():
    t = 0.1
    W_hist, _ = train_sparse(X, Y, "trimmed", threshold=t, steps=30)
    for W, W_next in zip(W_hist[:-1], W_hist[1:]):
        v = W - 0.02 * loss_and_grad(W, X, Y)[1]
        np.testing.assert_allclose(W_next, trimmed_soft_threshold(v, t), rtol=0, atol=1e-14)


def test_trimmed_w_selects_by_the_current_iterate():
    t = 0.1
    W_hist, _ = train_sparse(X, Y, "trimmed_w", threshold=t, steps=30)
    for W, W_next in zip(W_hist[:-1], W_hist[1:]):
        v = W - 0.02 * loss_and_grad(W, X, Y)[1]
        smallest = np.argsort(np.abs(W), kind="stable")[:3]
        expected = v.copy()
        expected[smallest] = soft_threshold(v[smallest], t)
        np.testing.assert_allclose(W_next, expected, rtol=0, atol=1e-14)


def test_the_two_trimmed_conventions_differ_by_about_045_at_t02():
    # HOMEWORK A3.5: the paths differ by up to 0.45 at t = 0.2 (observed 0.448).
    a, _ = train_sparse(X, Y, "trimmed", threshold=0.2)
    b, _ = train_sparse(X, Y, "trimmed_w", threshold=0.2)
    assert np.max(np.abs(a - b)) == pytest.approx(0.45, abs=0.005)


def test_l1_and_prox_shrink_but_do_not_reach_the_truth():
    for method, kwargs in ALL_RUNS[2:10]:
        W_hist, _ = train_sparse(X, Y, method, **kwargs)
        # The L1 bias: |W_1| < 3 at the end.
        assert -3.0 < W_hist[-1][1] < -2.6, (method, kwargs)


def test_prox_results_at_larger_thresholds_are_exactly_sparse():
    # Observed: t = 0.02 ends at [0, -2.9, 0, 0, 0.91666667].
    W_hist, _ = train_sparse(X, Y, "prox", threshold=0.02)
    np.testing.assert_allclose(W_hist[-1], [0, -2.9, 0, 0, 0.91666667], rtol=0, atol=1e-8)


# ---------------------------------------------------------------- sign conventions
@pytest.mark.parametrize("method, kwargs", ALL_RUNS)
def test_y_negated_2019_version_negates_every_answer(method, kwargs):
    W_hist, L_hist = train_sparse(X, Y, method, **kwargs)
    W_neg, L_neg = train_sparse(X, -Y, method, **kwargs)
    np.testing.assert_allclose(W_neg, -W_hist, rtol=0, atol=1e-12)
    np.testing.assert_allclose(L_neg, L_hist, rtol=1e-9, atol=1e-20)


def test_y_negated_truths():
    W_hist, _ = train_sparse(X, -Y, "prune")
    np.testing.assert_allclose(W_hist[-1], -TRUTH, rtol=0, atol=1e-12)
    W_hist, _ = train_sparse(X, -Y, "gd")
    np.testing.assert_allclose(W_hist[-1], -GD_FINAL, rtol=0, atol=5e-9)


@pytest.mark.parametrize("method, kwargs", ALL_RUNS)
def test_2024_version_with_negated_x_negates_the_runs_on_x(method, kwargs):
    # 2024: -X with y = [5, 1, 1]; W solves (-X) W = y iff -W solves X (-W) = y, and every
    # step (gradient, top-k, thresholds) commutes with negation.
    y2024 = np.array([5.0, 1.0, 1.0])
    W_hist, L_hist = train_sparse(-X, y2024, method, **kwargs)
    W_ref, L_ref = train_sparse(X, y2024, method, **kwargs)
    np.testing.assert_allclose(W_hist, -W_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(L_hist, L_ref, rtol=1e-9, atol=1e-20)


# ---------------------------------------------------------------- A3.6 and input handling
def test_two_data_points_still_fit_exactly():
    for method in ("gd", "prune"):
        W_hist, L_hist = train_sparse(X[:2], Y[:2], method)
        assert L_hist[-1] < 1e-20, method
    W_hist, _ = train_sparse(X[:2], Y[:2], "prune")
    assert np.count_nonzero(W_hist[-1]) == 2


def test_accepts_float32_lists_and_column_targets_without_mutation():
    X32 = X.astype(np.float32)
    Y_col = Y.reshape(3, 1).copy()
    W_hist, L_hist = train_sparse(X32.tolist(), Y_col, "trimmed", threshold=0.1)
    W_ref, _ = train_sparse(X, Y, "trimmed", threshold=0.1)
    np.testing.assert_allclose(W_hist, W_ref, rtol=0, atol=1e-9)  # small ints: exact in float32
    np.testing.assert_array_equal(Y_col, Y.reshape(3, 1))
    assert W_hist.dtype == np.float64


@pytest.mark.parametrize(
    "method, kwargs, words",
    [
        ("newton", {}, "unknown method"),
        ("l1", {}, "lam"),
        ("l1", {"lam": 1.0, "threshold": 0.02}, "threshold"),
        ("prox", {}, "threshold"),
        ("trimmed", {}, "threshold"),
        ("trimmed_w", {}, "threshold"),
        ("prox", {"lam": 1.0, "threshold": 0.05}, "conflicts"),
        ("gd", {"lam": 1.0}, "lam"),
        ("prune", {"threshold": 0.1}, "threshold"),
        ("l1", {"lam": -1.0}, "lam"),
        ("gd", {"steps": -3}, "steps"),
    ],
)
def test_missing_or_conflicting_parameters(method, kwargs, words):
    with pytest.raises(ValueError, match=words):
        train_sparse(X, Y, method, **kwargs)
