"""effdl.qcs: Gaussian measurements, the b-bit quantizer, ISTA, recovery and QCS-SGD (C3)."""

import subprocess
import sys

import numpy as np
import pytest

from effdl.qcs import (
    gaussian_matrix,
    ista,
    lasso_objective,
    lipschitz_constant,
    qcs_bytes,
    qcs_measure,
    quantizer_levels,
    recover,
    recovery_error,
    recovery_trial,
    sparse_regression_data,
    sparse_vector,
    train_qcs,
    uniform_quantize,
)
from effdl.sparse_opt import soft_threshold


def test_numpy_modules_do_not_import_torch():
    code = (
        "import sys; import effdl.compression, effdl.qcs, effdl.variants_c; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- measurements
def test_gaussian_matrix_shape_and_variance():
    Phi = gaussian_matrix(200, 500, np.random.default_rng(0))
    assert Phi.shape == (200, 500)
    # 100,000 entries N(0, 1/M): M * mean(Phi^2) has mean 1 and standard deviation
    # sqrt(2 / 100000) = 0.0045; 0.03 is 6.7 deviations (chi-square tail below 1e-9).
    assert abs(200 * np.mean(Phi**2) - 1) < 0.03
    again = gaussian_matrix(200, 500, np.random.default_rng(0))
    np.testing.assert_array_equal(Phi, again)
    with pytest.raises(TypeError, match="Generator"):
        gaussian_matrix(2, 3, 0)


# ---------------------------------------------------------------- the quantizer
def test_uniform_quantize_by_hand():
    # R = 1; 2 bits -> levels -1, -1/3, 1/3, 1 (no level at 0, both ends are levels).
    np.testing.assert_allclose(
        uniform_quantize([-1.0, 0.2, 0.5, -0.05, 0.9], 2),
        [-1.0, 1 / 3, 1 / 3, -1 / 3, 1.0],
        rtol=0,
        atol=1e-15,
    )
    # 1 bit is sign * R.
    np.testing.assert_array_equal(uniform_quantize([0.3, -2.0, 1.0], 1), [2.0, -2.0, 2.0])
    # A given range clips what lies beyond it.
    np.testing.assert_allclose(uniform_quantize([5.0, -0.1], 2, R=3.0), [3.0, -1.0])
    np.testing.assert_array_equal(uniform_quantize(np.zeros(3), 4), 0)


def test_uniform_quantize_range_rule_levels_and_error():
    y = np.random.default_rng(1).standard_normal(5000) * 3
    R = np.max(np.abs(y))
    for bits in (1, 2, 3, 5):
        q = uniform_quantize(y, bits)
        levels = quantizer_levels(bits, R)
        assert len(levels) == 2**bits
        # Every output is a level; the extremes +-R are hit exactly; error <= half a step.
        assert np.all(np.min(np.abs(q[:, None] - levels[None, :]), axis=1) < 1e-9 * R)
        assert np.max(np.abs(q)) == pytest.approx(R, rel=1e-12)
        assert np.max(np.abs(q - y)) <= R / (2**bits - 1) + 1e-12
        if bits <= 3:
            assert len(np.unique(np.round(q / R, 9))) == 2**bits  # all levels used here
    # Wrong range rules give other outputs: the levels of [min, max] instead of [-R, R],
    # or a spacing of 2R / 2^b instead of 2R / (2^b - 1).
    v = np.array([-1.0, 0.2, 0.5, 0.9])
    minmax = v.min() + (v.max() - v.min()) * np.rint((v - v.min()) / (v.max() - v.min()) * 3) / 3
    step = 2.0 / 4
    coarse = np.clip(np.rint(v / step) * step, -1, 1)
    ours = uniform_quantize(v, 2)
    assert not np.allclose(ours, minmax) and not np.allclose(ours, coarse)


def test_qcs_measure_and_bytes():
    rng = np.random.default_rng(2)
    Phi = gaussian_matrix(6, 10, rng)
    g = sparse_vector(10, 2, rng)
    np.testing.assert_array_equal(qcs_measure(g, Phi, 4), uniform_quantize(Phi @ g, 4))
    assert qcs_bytes(64, 4) == 32 + 4 and qcs_bytes(10, 3) == 4 + 4
    with pytest.raises(ValueError, match="columns"):
        qcs_measure(np.ones(9), Phi, 4)


# ---------------------------------------------------------------- ISTA
def _small_problem(seed: int = 3):
    rng = np.random.default_rng(seed)
    Phi = gaussian_matrix(20, 50, rng)
    x = sparse_vector(50, 3, rng)
    return Phi, x, Phi @ x


def test_lipschitz_constant_is_the_largest_eigenvalue():
    Phi, _, _ = _small_problem()
    assert lipschitz_constant(Phi) == pytest.approx(np.linalg.eigvalsh(Phi.T @ Phi).max())


def test_ista_with_orthonormal_phi_is_one_soft_threshold():
    y = np.array([3.0, -0.5, 1.2, 0.1])
    np.testing.assert_allclose(ista(y, np.eye(4), 0.4, steps=1), soft_threshold(y, 0.4))
    np.testing.assert_allclose(ista(y, np.eye(4), 0.4, steps=10), soft_threshold(y, 0.4))


def test_ista_objective_never_increases_and_ends_optimal():
    Phi, _, y = _small_problem()
    lam = 0.05
    objectives, x = [], np.zeros(50)
    for _ in range(300):
        x = ista(y, Phi, lam, steps=1, x0=x)
        objectives.append(lasso_objective(x, y, Phi, lam))
    assert np.all(np.diff(objectives) <= 1e-12)
    x = ista(y, Phi, lam, steps=5000)
    # Optimality: Phi^T (y - Phi x) = lam sign(x) on the support, |.| <= lam off it.
    corr = Phi.T @ (y - Phi @ x)
    on = x != 0
    np.testing.assert_allclose(corr[on], lam * np.sign(x[on]), rtol=0, atol=1e-6)
    assert np.all(np.abs(corr[~on]) <= lam + 1e-6)


def test_ista_refuses_a_step_above_one_over_L_which_can_diverge():
    Phi, _, y = _small_problem()
    L = lipschitz_constant(Phi)
    with pytest.raises(ValueError, match="1/L"):
        ista(y, Phi, 0.05, steps=5, step=1.5 / L)
    ista(y, Phi, 0.05, steps=5, step=0.5 / L)  # smaller steps are allowed
    # The same iteration with step 2.2 / L (the mistake) blows up at a small lam, where the
    # iterates are dense and the largest eigenvalue matters; with 1 / L it converges.
    lam = 1e-3
    start = lasso_objective(np.zeros(50), y, Phi, lam)
    for factor, bad in ((1.0, False), (2.2, True)):
        x = np.zeros(50)
        for _ in range(100):
            x = soft_threshold(x + (factor / L) * Phi.T @ (y - Phi @ x), lam * factor / L)
        assert (lasso_objective(x, y, Phi, lam) > 1e3 * start) == bad


# ---------------------------------------------------------------- recovery
def test_recovery_fails_below_and_succeeds_above_a_measurement_count():
    N, s = 128, 4

    def median_error(M: int, bits: int | None) -> float:
        trials = [
            recovery_trial(N, M, s, bits, np.random.default_rng([M, t]), 1e-2, 500)
            for t in range(5)
        ]
        return float(np.median(trials))

    assert median_error(2 * s, None) > 0.5
    assert median_error(64, None) < 0.05
    # Quantization adds an error floor: 2 bits are much worse than 8 at the same M.
    assert median_error(64, 2) > 5 * median_error(64, 8)


def test_recover_lambda_is_relative_and_error_is_relative():
    Phi, x, y = _small_problem()
    assert not recover(y, Phi, lam_ratio=1.0).any()  # lam >= ||Phi^T y||_inf gives 0
    assert recovery_error(2 * x, x) == pytest.approx(1.0)
    assert recovery_error(np.ones(3), np.zeros(3)) == pytest.approx(np.sqrt(3))


# ---------------------------------------------------------------- distributed SGD
def test_train_qcs_compares_bits_and_loss():
    X, y, _ = sparse_regression_data(400, 64, 3, np.random.default_rng(0))
    assert np.all(np.count_nonzero(X, axis=1) == 3)
    runs = {
        m: train_qcs(X, y, m, n_workers=4, lr=0.5, steps=60, batch=2, M=32, bits=6,
                     ista_steps=150, rng=np.random.default_rng(1))
        for m in ("sgd", "terngrad", "qcs")
    }  # fmt: skip
    assert runs["sgd"]["bits_per_step"] == 32 * 64
    assert runs["terngrad"]["bits_per_step"] == 8 * (4 + 16)
    assert runs["qcs"]["bits_per_step"] == 8 * (24 + 4)
    for run in runs.values():
        assert run["loss"].shape == (61,) and run["bits"][-1] == 60 * run["bits_per_step"]
        assert run["loss"][-1] < 0.6 * run["loss"][0]
    with pytest.raises(ValueError, match="unknown method"):
        train_qcs(X, y, "zip")
