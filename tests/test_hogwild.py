"""effdl.hogwild: the sparse update, and short lock-free runs in real processes (C5)."""

import numpy as np
import pytest

from effdl.hogwild import (
    distinct_indices,
    logistic_loss,
    lost_updates,
    run_hogwild,
    serial_sgd,
    sgd_update,
    sparse_logistic_data,
)


class WriteRecorder(np.ndarray):
    """An ndarray that records which positions are written, by item assignment or in place.

    A worker update that writes only its sample's coordinates leaves `written` equal to them;
    one that writes every coordinate (w -= lr * dense_gradient, w[:] = ...) records them all,
    even where it writes back the value that was there.
    """

    def __new__(cls, values):
        obj = np.asarray(values, dtype=np.float64).copy().view(cls)
        obj.written = set()
        return obj

    def __array_finalize__(self, obj):
        self.written = set()  # a slice or result of w records its own writes, not w's

    def _record(self, key):
        self.written |= set(np.arange(self.shape[0])[key].reshape(-1).tolist())

    def __setitem__(self, key, value):
        self._record(key)
        super().__setitem__(key, value)

    def __iadd__(self, other):
        self._record(slice(None))
        return super().__iadd__(other)

    def __isub__(self, other):
        self._record(slice(None))
        return super().__isub__(other)


def test_sgd_update_by_hand_and_only_on_the_support():
    w = WriteRecorder(np.zeros(6))
    sgd_update(w, np.array([1, 3]), np.array([2.0, -1.0]), 1.0, 0.5)
    # margin 0: the gradient is -y sigma(0) x = -0.5 x; the step adds 0.25 x on idx.
    np.testing.assert_allclose(np.asarray(w), [0, 0.5, 0, -0.25, 0, 0], rtol=0, atol=1e-15)
    assert w.written == {1, 3}


def test_the_recorder_catches_a_worker_that_writes_every_coordinate():
    def dense_update(w, idx, val, y, lr):
        x = np.zeros(w.shape[0])
        x[idx] = val
        w -= lr * (-y / (1 + np.exp(y * (x @ w)))) * x

    w = WriteRecorder(np.zeros(6))
    dense_update(w, np.array([1, 3]), np.array([2.0, -1.0]), 1.0, 0.5)
    np.testing.assert_allclose(np.asarray(w), [0, 0.5, 0, -0.25, 0, 0], atol=1e-15)  # same
    assert w.written == set(range(6))  # but it wrote everything


def test_distinct_indices():
    rng = np.random.default_rng(0)
    for d, k in [(10000, 10), (20, 15), (5, 5)]:
        idx = distinct_indices(rng, 300, d, k)
        assert idx.shape == (300, k) and idx.min() >= 0 and idx.max() < d
        assert all(len(set(row)) == k for row in idx.tolist())
    with pytest.raises(ValueError):
        distinct_indices(rng, 3, 4, 5)


def test_data_and_serial_sgd_lower_the_loss():
    idx, val, y, _ = sparse_logistic_data(3000, 200, 5, np.random.default_rng(1))
    assert set(np.unique(y)) == {-1.0, 1.0}
    w = serial_sgd(idx, val, y, 0.1, 3, d=200)
    assert logistic_loss(w, idx, val, y) < 0.8 * logistic_loss(np.zeros(200), idx, val, y)


def _disjoint_problem():
    """Even rows use coordinates 0..49, odd rows 50..99: with 2 processes dealt round-robin
    each process owns its coordinates, so no write can conflict."""
    idx, val, y, _ = sparse_logistic_data(2000, 50, 5, np.random.default_rng(2))
    idx = idx.copy()
    idx[1::2] += 50
    return idx, val, y


@pytest.mark.parametrize("lock", [False, True])
def test_hogwild_without_conflicts_equals_the_serial_runs(lock):
    idx, val, y = _disjoint_problem()
    run = run_hogwild(idx, val, y, n_procs=2, lr=0.1, epochs=2, lock=lock, seed=5, d=100)
    # The same updates in the same order per process, applied by one process.
    expected = np.zeros(100)
    for p in range(2):
        rng = np.random.default_rng([5, p])
        rows = np.arange(p, 2000, 2)
        for _ in range(2):
            for i in rows[rng.permutation(rows.size)]:
                sgd_update(expected, idx[i], val[i], y[i], 0.1)
    np.testing.assert_array_equal(run["w"], expected)
    assert run["updates"] == 4000 and run["updates_per_s"] > 0
    assert run["loss"] == pytest.approx(logistic_loss(expected, idx, val, y))


def test_sparse_writes_rarely_conflict():
    r = lost_updates(d=10000, nnz=10, n_procs=2, updates=5000)
    assert r["expected"] == 100000
    assert r["lost"] >= 0 and r["lost_fraction"] < 0.01, r
