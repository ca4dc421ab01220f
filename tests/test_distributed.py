"""effdl.distributed: parameter-server SGD, TernGrad and clipping (HOMEWORK A2)."""

import math

import numpy as np
import pytest

from effdl.distributed import (
    clip_gradient,
    closed_form,
    server_step,
    terngrad,
    train_distributed,
    worker_gradient,
)

# HOMEWORK A2: one data point per worker.
X = np.array([[-1.0, 2.0, 0.0], [3.0, 0.0, 1.0], [2.0, -1.0, 3.0]])
Y = np.array([-7.0, 5.0, 11.0])
W_STAR = np.array([1.0, -3.0, 2.0])


# ---------------------------------------------------------------- closed form
def test_closed_form_is_x_inverse_times_y():
    np.testing.assert_allclose(closed_form(X, Y), W_STAR, rtol=0, atol=1e-12)


def test_closed_form_is_not_y_times_x_inverse():
    # The mistake y X^-1 gives a different vector for this X.
    wrong = Y @ np.linalg.inv(X)
    assert np.max(np.abs(wrong - W_STAR)) > 1.0
    assert np.max(np.abs(closed_form(X, Y) - wrong)) > 1.0


def test_closed_form_accepts_column_y_lists_and_float32():
    W = closed_form(X.astype(np.float32).tolist(), Y.reshape(3, 1).astype(np.float32))
    assert W.shape == (3,) and W.dtype == np.float64
    np.testing.assert_allclose(W, W_STAR, rtol=0, atol=1e-5)  # float32 input: ~1e-7 relative


@pytest.mark.parametrize(
    "X_bad, y_bad, words",
    [
        (np.ones((2, 3)), np.ones(2), "square"),
        (np.ones((3, 3)), np.ones(3), "singular"),
        (np.ones(3), np.ones(3), "(n, d)"),
        (np.eye(3), np.ones(4), "(3,)"),
    ],
)
def test_closed_form_rejects_bad_input(X_bad, y_bad, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        closed_form(X_bad, y_bad)


# ---------------------------------------------------------------- one worker, the server
def test_worker_gradient_value_and_shape():
    W = np.array([0.5, -1.0, 2.0])
    x = np.array([3.0, 0.0, 1.0])
    g = worker_gradient(W, x, 5.0)
    # x.W - y = 1.5 + 2 - 5 = -1.5, so g = 2 * x * (-1.5) = -3 x.
    np.testing.assert_allclose(g, [-9.0, 0.0, -3.0], rtol=0, atol=1e-12)
    assert g.shape == (3,) and g.dtype == np.float64


def test_worker_gradient_is_a_vector_not_a_scalar():
    # Mistake: collapsing the gradient to a scalar moves every weight by the same amount.
    g = worker_gradient(np.zeros(3), X[2], Y[2])
    assert g.shape == (3,)
    assert len(set(np.round(g, 9))) == 3


@pytest.mark.parametrize("shape_W, shape_x", [((3,), (3,)), ((3, 1), (3,)), ((3, 1), (3, 1))])
def test_worker_gradient_accepts_column_vectors(shape_W, shape_x):
    W = np.array([0.5, -1.0, 2.0]).reshape(shape_W)
    x = X[1].reshape(shape_x)
    g = worker_gradient(W, x, np.array([5.0]))
    np.testing.assert_allclose(g, [-9.0, 0.0, -3.0], rtol=0, atol=1e-12)
    assert g.shape == (3,)


@pytest.mark.parametrize("bad", [np.zeros((3, 2)), np.zeros((1, 3, 1)), np.zeros(4), 5.0])
def test_worker_gradient_shape_errors_name_expected_and_received(bad):
    with pytest.raises(ValueError) as info:
        worker_gradient(np.zeros(3), bad, 1.0)
    message = str(info.value)
    assert "(3,) or (3, 1)" in message
    assert str(np.shape(bad)) in message


def test_worker_gradient_rejects_several_targets():
    with pytest.raises(ValueError, match="single number"):
        worker_gradient(np.zeros(3), X[0], [1.0, 2.0])


def test_server_step_averages_the_gradients():
    W = np.array([1.0, 1.0, 1.0])
    grads = [np.array([3.0, 0.0, 0.0]), np.array([0.0, 3.0, 0.0]), np.array([0.0, 0.0, 6.0])]
    # Average = [1, 1, 2]; the sum would give [3, 3, 6].
    np.testing.assert_allclose(server_step(W, grads, 0.5), [0.5, 0.5, 0.0], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "form",
    ["list", "list_of_columns", "array", "array_of_columns", "tuple"],
)
def test_server_step_accepts_lists_and_arrays(form):
    G = np.arange(9.0).reshape(3, 3)
    grads = {
        "list": [row for row in G],
        "list_of_columns": [row.reshape(3, 1) for row in G],
        "array": G,
        "array_of_columns": G.reshape(3, 3, 1),
        "tuple": tuple(G.tolist()),
    }[form]
    W = np.zeros((3, 1))
    out = server_step(W, grads, 0.1)
    assert out.shape == (3,) and out.dtype == np.float64
    np.testing.assert_allclose(out, -0.1 * G.mean(axis=0), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "bad, received",
    [
        (np.zeros((3, 4)), "(3, 4)"),
        (np.zeros(3), "(3,)"),
        (np.zeros((2, 3, 2)), "(2, 3, 2)"),
        ([np.zeros(3), np.zeros(4)], "(4,)"),
    ],
)
def test_server_step_shape_errors_name_expected_and_received(bad, received):
    with pytest.raises(ValueError) as info:
        server_step(np.zeros(3), bad, 0.1)
    message = str(info.value)
    assert "3" in message and received in message


def test_server_step_rejects_no_gradients():
    with pytest.raises(ValueError, match="empty"):
        server_step(np.zeros(3), [], 0.1)


def test_functions_do_not_mutate_their_inputs():
    W = np.array([0.5, -1.0, 2.0])
    g = np.array([4.0, -6.0, 0.5])
    grads = np.stack([g, -g])
    saved = (W.copy(), g.copy(), grads.copy())
    worker_gradient(W, g, 1.0)
    server_step(W, grads, 0.1)
    clip_gradient(g, 1.0)
    terngrad(g, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(W, saved[0])
    np.testing.assert_array_equal(g, saved[1])
    np.testing.assert_array_equal(grads, saved[2])


# ---------------------------------------------------------------- clipping
def test_clip_gradient():
    g = np.array([-7.0, -1.0, 0.0, 2.5, 12.0])
    np.testing.assert_array_equal(clip_gradient(g, 2.0), [-2.0, -1.0, 0.0, 2.0, 2.0])
    np.testing.assert_array_equal(clip_gradient(g.reshape(5, 1), 100.0), g)


def test_clip_gradient_rejects_negative_threshold():
    with pytest.raises(ValueError, match="T"):
        clip_gradient(np.ones(3), -1.0)


# ---------------------------------------------------------------- TernGrad
def test_terngrad_values_are_zero_or_plus_minus_own_max():
    rng = np.random.default_rng(1)
    g = np.array([0.3, -1.7, 0.0, 0.9, -0.05])
    s = 1.7
    for _ in range(200):
        t = terngrad(g, rng=rng)
        assert t.shape == (5,) and t.dtype == np.float64
        assert set(np.abs(t)) <= {0.0, s}
        # A kept entry has the sign of g; an entry with g_j = 0 is never sent.
        kept = t != 0
        assert np.all(np.sign(t[kept]) == np.sign(g[kept]))
        assert t[2] == 0.0
        # The largest entry has keep-probability |g_j| / s = 1.
        assert t[1] == -s


def test_terngrad_with_given_scaler_and_capped_probability():
    rng = np.random.default_rng(2)
    g = np.array([5.0, -5.0, 0.5, 0.0])
    for _ in range(100):
        t = terngrad(g, s=1.0, rng=rng)
        assert set(t) <= {-1.0, 0.0, 1.0}
        # |g_j| / s = 5 > 1 is capped at 1: always sent.
        assert t[0] == 1.0 and t[1] == -1.0 and t[3] == 0.0


@pytest.mark.parametrize("g, s", [(np.zeros(4), None), (np.zeros(4), 3.0), (np.ones(4), 0.0)])
def test_terngrad_zero_gradient_or_zero_scaler_gives_zeros(g, s):
    t = terngrad(g, s=s, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(t, np.zeros(4))
    assert t.shape == (4,)


def test_terngrad_rejects_negative_scaler():
    with pytest.raises(ValueError, match="scaler"):
        terngrad(np.ones(3), s=-1.0)


def test_terngrad_same_generator_state_same_output_and_default_rng_works():
    g = np.array([0.2, -0.4, 0.6, -0.8, 1.0])
    a = terngrad(g, rng=np.random.default_rng(7))
    b = terngrad(g, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert set(np.abs(terngrad(g))) <= {0.0, 1.0}  # rng=None: a fresh generator


def _max_mean_error(sample, g: np.ndarray, n: int, seed: int) -> float:
    """Largest |sample mean - g_j| over coordinates after n draws of sample(g, rng)."""
    rng = np.random.default_rng(seed)
    total = np.zeros_like(g)
    for _ in range(n):
        total += sample(g, rng)
    return float(np.max(np.abs(total / n - g)))


def _hoeffding_epsilon(n: int, value_range: float, coordinates: int, fail_prob: float) -> float:
    """Half-width epsilon with P(some coordinate's mean is off by >= epsilon) <= fail_prob.

    Hoeffding for n independent draws in an interval of length R: P(|mean - E| >= eps) <=
    2 exp(-2 n eps^2 / R^2); a union bound over the coordinates multiplies by their count.
    Solving 2 * coordinates * exp(-2 n eps^2 / R^2) = fail_prob for eps gives the formula.
    """
    return value_range * math.sqrt(math.log(2 * coordinates / fail_prob) / (2 * n))


def test_terngrad_is_unbiased_hoeffding():
    # Entries of terngrad(g) lie in [-s, s] (range 2s). With n = 20000 draws, 5 coordinates
    # and a target false-fail probability of 1e-9 (were the seed random), a correct TernGrad
    # has every coordinate mean within eps = 2s * sqrt(ln(1e10) / 40000) ~= 0.048 s of g.
    g = np.array([1.0, -0.15, 0.85, 0.0, -0.9])
    n, s = 20000, 1.0
    eps = _hoeffding_epsilon(n, 2 * s, len(g), 1e-9)
    assert eps < 0.05
    assert _max_mean_error(lambda g, rng: terngrad(g, rng=rng), g, n, seed=12345) < eps

    # The same test fails an implementation with the Bernoulli inverted (keep with
    # probability 1 - |g|/s): its mean is off by |s - 2|g_j|| = 0.7 on the second entry.
    def inverted(g, rng):
        keep = rng.random(g.shape[0]) < 1 - np.abs(g) / s
        return s * np.sign(g) * keep

    assert _max_mean_error(inverted, g, n, seed=12345) > eps


# ---------------------------------------------------------------- training runs
def test_train_distributed_shapes_start_and_loss_definition():
    W_hist, losses = train_distributed(X, Y)
    assert W_hist.shape == (51, 3) and losses.shape == (50, 3)
    assert W_hist.dtype == np.float64 and losses.dtype == np.float64
    np.testing.assert_array_equal(W_hist[0], np.zeros(3))
    # losses[k, i] is worker i's loss at the weights after step k + 1.
    expected = (W_hist[1:] @ X.T - Y) ** 2
    np.testing.assert_allclose(losses, expected, rtol=1e-12, atol=1e-300)


def test_train_distributed_first_step_is_the_averaged_gradient_step():
    W_hist, _ = train_distributed(X, Y, steps=1)
    # At W = 0: g_i = -2 y_i X_i; average over the 3 workers, lr 0.1.
    expected = 0.1 * (2.0 / 3.0) * (X.T @ Y)
    np.testing.assert_allclose(W_hist[1], expected, rtol=1e-12, atol=0)


def test_train_distributed_history_rows_are_separate_copies():
    # Mistake: appending the same array object that is then updated in place.
    W_hist, _ = train_distributed(X, Y, steps=5)
    assert len({tuple(row) for row in W_hist}) == 6


def test_plain_run_converges_to_w_star():
    # Canonical data: the slowest mode shrinks by 0.817 per step, so after 50 steps
    # the distance to W* is about 5.4e-5 (not yet 1e-6).
    W_hist, losses = train_distributed(X, Y)
    assert np.linalg.norm(W_hist[-1] - W_STAR) < 1e-4
    assert np.max(losses[-1]) < 1e-8
    # Losses fall by orders of magnitude over the run.
    assert np.all(losses[-1] < 1e-6 * losses[0])


def test_summing_instead_of_averaging_diverges_at_this_learning_rate():
    # What the averaging prevents: one step of size lr * sum(g_i) = averaging with lr 0.3.
    W_hist, _ = train_distributed(X, Y, lr=0.3)
    assert np.linalg.norm(W_hist[-1] - W_STAR) > 1e3


@pytest.mark.parametrize(
    "T, expected",
    [(1, [1.99, -2.61, 0.96]), (2, [1.37, -3.02, 1.26])],
)
def test_clipping_small_thresholds_match_homework(T, expected):
    # HOMEWORK gives two decimals: tolerance 0.005 + rounding slack.
    W_hist, _ = train_distributed(X, Y, clip=T)
    np.testing.assert_allclose(W_hist[-1], expected, rtol=0, atol=0.006)
    assert np.linalg.norm(W_hist[-1] - W_STAR) > 0.5  # visibly not converged


@pytest.mark.parametrize("T", [5, 10])
def test_clipping_large_thresholds_converge(T):
    # Observed: 1.1e-3 (T=5) and 1.3e-4 (T=10) from W* after 50 steps.
    W_hist, _ = train_distributed(X, Y, clip=T)
    assert np.linalg.norm(W_hist[-1] - W_STAR) < 2e-3


def _possible_first_updates(scalers: list[float], lr: float, n: int) -> set:
    """All values a coordinate of W_1 can take when worker i sends 0 or +-scalers[i]."""
    values = {0.0}
    for s in scalers:
        values = {v + c * s for v in values for c in (-1.0, 0.0, 1.0)}
    return {round(-lr * v / n, 9) for v in values}


def test_ternary_run_uses_each_workers_own_scaler():
    g0 = [worker_gradient(np.zeros(3), X[i], Y[i]) for i in range(3)]
    own = [float(np.max(np.abs(g))) for g in g0]  # 14, 30, 66: the scalers differ
    allowed = _possible_first_updates(own, 0.1, 3)
    for seed in range(40):
        W_hist, _ = train_distributed(X, Y, ternary=True, rng=np.random.default_rng(seed))
        assert {round(v, 9) for v in W_hist[1]} <= allowed
    # One global scaler (66 for everybody) would give updates outside that set.
    assert not _possible_first_updates([66.0] * 3, 0.1, 3) <= allowed


def test_ternary_run_order_workers_share_one_generator():
    # Step 1 by hand: workers 0, 1, 2 in turn draw from the same generator, then the server.
    rng = np.random.default_rng(3)
    grads = [terngrad(worker_gradient(np.zeros(3), X[i], Y[i]), rng=rng) for i in range(3)]
    W1 = server_step(np.zeros(3), grads, 0.1)
    grads = [terngrad(worker_gradient(W1, X[i], Y[i]), rng=rng) for i in range(3)]
    W2 = server_step(W1, grads, 0.1)
    W_hist, _ = train_distributed(X, Y, steps=2, ternary=True, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(W_hist[1:], [W1, W2])


def test_clip_then_ternary_with_scaler_t_sends_multiples_of_t():
    for seed in range(20):
        W_hist, _ = train_distributed(
            X, Y, clip=5, ternary=True, scaler=5, rng=np.random.default_rng(seed)
        )
        # Each update is -lr/3 * (sum of values in {0, +-5}): a multiple of 0.1 * 5 / 3.
        steps = np.diff(W_hist, axis=0) / (0.1 * 5 / 3)
        np.testing.assert_allclose(steps, np.round(steps), rtol=0, atol=1e-9)
        assert np.max(np.abs(steps)) <= 3


def test_ternary_runs_are_reproducible_by_seed():
    a = train_distributed(X, Y, ternary=True, rng=np.random.default_rng(11))
    b = train_distributed(X, Y, ternary=True, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_ternary_own_scaler_converges_on_average():
    # Over 30 fixed seeds the mean final W lies close to W* (observed spread ~1e-4).
    finals = [
        train_distributed(X, Y, ternary=True, rng=np.random.default_rng(seed))[0][-1]
        for seed in range(30)
    ]
    np.testing.assert_allclose(np.mean(finals, axis=0), W_STAR, rtol=0, atol=1e-2)


def test_train_distributed_accepts_lists_float32_and_column_targets():
    W_ref, L_ref = train_distributed(X, Y, steps=10)
    W_hist, losses = train_distributed(X.astype(np.float32).tolist(), Y.reshape(3, 1), steps=10)
    assert W_hist.dtype == np.float64 and W_hist.shape == (11, 3)
    np.testing.assert_allclose(W_hist, W_ref, rtol=0, atol=1e-9)  # float32 holds these ints
    np.testing.assert_allclose(losses, L_ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"steps": -1}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"scaler": 5.0}, "ternary"),
    ],
)
def test_train_distributed_rejects_bad_settings(kwargs, words):
    with pytest.raises(ValueError, match=words):
        train_distributed(X, Y, **kwargs)


def test_train_distributed_rejects_mismatched_data():
    with pytest.raises(ValueError, match=r"\(3,\) or \(3, 1\)"):
        train_distributed(X, np.ones(4))
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        train_distributed(np.ones(3), np.ones(3))


# ---------------------------------------------------------------- solution-notebook rendering
def _notebook_namespace() -> dict:
    """What a solution notebook has: `import numpy as np`, then the private helpers and the
    public functions of distributed, sparse_opt and csc, each from its own source."""
    import inspect

    import effdl.csc
    import effdl.distributed
    import effdl.sparse_opt

    namespace: dict = {"np": np}
    sources: dict[str, str] = {}
    for module in (effdl.distributed, effdl.sparse_opt, effdl.csc):
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                source = inspect.getsource(obj)
                # Helpers share one cell: a name may not mean two different things.
                assert sources.setdefault(name, source) == source, f"{name} defined twice"
    for source in sources.values():
        exec(compile(source, "<notebook cell>", "exec"), namespace)
    return namespace


def _names_used(code) -> set:
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names_used(const)
    return names


def test_functions_use_only_numpy_builtins_and_notebook_functions():
    import builtins
    import inspect

    import effdl.csc
    import effdl.distributed
    import effdl.sparse_opt

    allowed = set(_notebook_namespace()) | set(dir(builtins))
    for module in (effdl.distributed, effdl.sparse_opt, effdl.csc):
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                # co_names also lists attribute names (np.abs -> "abs"); only those that are
                # globals of the module matter: each must exist in the notebook too.
                used = {n for n in _names_used(obj.__code__) if n in vars(module)}
                assert used <= allowed, f"{module.__name__}.{name} uses {used - allowed}"


def test_functions_run_standalone_as_in_the_solution_notebook():
    ns = _notebook_namespace()
    W_hist, losses = ns["train_distributed"](X, Y, clip=2)
    np.testing.assert_array_equal(W_hist, train_distributed(X, Y, clip=2)[0])
    W_hist, _ = ns["train_distributed"](X, Y, ternary=True, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(W_hist, train_distributed(X, Y, ternary=True, rng=0)[0])
    np.testing.assert_array_equal(ns["closed_form"](X, Y), closed_form(X, Y))
    X3 = np.array([[1, -2, -1, -1, 1], [2, -1, 2, 0, -2], [-1, 0, 2, 2, 1]])
    for method, kw in [("prune", {}), ("l1", {"lam": 0.5}), ("trimmed_w", {"threshold": 0.1})]:
        W_hist, L_hist = ns["train_sparse"](X3, [7, 1, 1], method, **kw)
        assert np.linalg.norm(W_hist[-1]) > 1 and L_hist.shape == (201,)
    v, z, p = ns["csc_encode"](np.eye(6), 1, n_pe=2, pe=1)
    np.testing.assert_array_equal(ns["csc_decode"](v, z, p, 6, n_pe=2, pe=1), np.eye(6)[1::2])
    assert ns["csc_storage_bits"](np.eye(8), 2, 8)["total"] > 0
    assert ns["csc_max_K"](4, 4) == 6
