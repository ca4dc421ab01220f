"""Hogwild!: lock-free parallel SGD on shared weights (assignment C5; Niu, Recht, Re, Wright).

Several processes run SGD on one weight vector in shared memory, each on its own share of the
samples, and write their updates without any lock. When every sample touches only a few
coordinates (sparse features), two processes rarely write the same coordinate at the same
time, so almost no update is lost and the throughput grows with the process count. When every
sample touches every coordinate (dense features), the processes overwrite each other's
updates (a read-modify-write of one is undone by another's) and contend for the same memory.
With a lock around each update nothing is lost, but the processes wait for each other.

The problem is logistic regression, loss(w) = mean_i log(1 + exp(-y_i x_i . w)), with labels
y_i in {-1, +1}. A sample is stored sparsely: its nnz feature indices and values, so the data
set is (idx (n, nnz) int64, val (n, nnz) float64, y (n,) float64); a dense problem is the
same with nnz = d. The shared weights are a float64 torch tensor in shared memory
(``share_memory_()``); each process updates it through a numpy view of the same memory.

`sgd_update` is the one update a worker applies: it reads and writes only w[idx] of its
sample. `run_hogwild` times several processes and reports updates per second and the final
loss; `serial_sgd` is the one-process reference.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from typing import Any

import numpy as np
import torch
import torch.multiprocessing as mp


def distinct_indices(rng: np.random.Generator, n: int, d: int, k: int) -> np.ndarray:
    """(n, k) int64: each row k distinct indices drawn uniformly from 0..d-1.

    Rows are drawn with rng.integers and the few with a repeated index are drawn again, so
    memory stays O(n k) even for a large d (all of 0..d-1 in order when k = d).
    """
    if not 1 <= k <= d:
        raise ValueError(f"need 1 <= k <= d, got k={k}, d={d}")
    if k == d:
        return np.tile(np.arange(d, dtype=np.int64), (n, 1))
    if 2 * k > d:  # dense enough that a permutation per row is cheap
        return np.argsort(rng.random((n, d)), axis=1)[:, :k].astype(np.int64)
    out = rng.integers(0, d, size=(n, k), dtype=np.int64)
    while True:
        ordered = np.sort(out, axis=1)
        bad = np.flatnonzero(np.any(ordered[:, 1:] == ordered[:, :-1], axis=1))
        if bad.size == 0:
            return out
        out[bad] = rng.integers(0, d, size=(bad.size, k), dtype=np.int64)


def sparse_logistic_data(
    n: int, d: int, nnz: int, rng: np.random.Generator, flip: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A logistic-regression data set whose samples have nnz nonzero features out of d.

    Feature indices are drawn uniformly without repetition within a sample, values are
    N(0, 1); labels are sign(x . w_true) for a standard normal w_true, each flipped with
    probability flip. Returns (idx (n, nnz) int64, val (n, nnz) float64, y (n,) float64 in
    {-1, +1}, w_true (d,)). nnz = d gives a dense problem.
    """
    idx = distinct_indices(rng, n, d, nnz)
    val = rng.standard_normal((n, nnz))
    w_true = rng.standard_normal(d)
    margin = np.sum(val * w_true[idx], axis=1)
    y = np.where(margin >= 0, 1.0, -1.0)
    y[rng.random(n) < flip] *= -1.0
    return idx, val, y, w_true


def logistic_loss(w: np.ndarray, idx: np.ndarray, val: np.ndarray, y: np.ndarray) -> float:
    """mean_i log(1 + exp(-y_i x_i . w)) over the data set (idx, val, y); w: (d,)."""
    w = np.asarray(w, dtype=np.float64)
    margin = y * np.sum(val * w[idx], axis=1)
    return float(np.mean(np.logaddexp(0.0, -margin)))


def sgd_update(w: np.ndarray, idx: np.ndarray, val: np.ndarray, y: float, lr: float) -> None:
    """One SGD step on one sample, in place: w[idx] -= lr * grad, touching only w[idx].

    The sample's features are val (nnz,) at positions idx (nnz,), its label y = +-1. The
    gradient of log(1 + exp(-y x . w)) is -y sigma(-y x . w) x, nonzero only on idx; the step
    reads w[idx] and writes w[idx] and nothing else, which is what makes Hogwild's sparse
    updates rarely collide. w: a float64 numpy array (d,) (a view of the shared weights).
    """
    margin = y * float(val @ w[idx])
    coef = -y / (1.0 + np.exp(margin))  # = -y * sigma(-margin)
    w[idx] -= lr * coef * val


def serial_sgd(
    idx: np.ndarray,
    val: np.ndarray,
    y: np.ndarray,
    lr: float,
    epochs: int,
    seed: int = 0,
    d: int | None = None,
) -> np.ndarray:
    """One process: `epochs` passes over the samples in a random order (seeded), from w = 0.

    d: length of w (default: the largest feature index + 1). Returns w, shape (d,).
    """
    rng = np.random.default_rng(seed)
    w = np.zeros(int(idx.max()) + 1 if d is None else int(d))
    for _ in range(epochs):
        for i in rng.permutation(idx.shape[0]):
            sgd_update(w, idx[i], val[i], y[i], lr)
    return w


def _worker(
    rank: int,
    w_shared: torch.Tensor,
    idx: np.ndarray,
    val: np.ndarray,
    y: np.ndarray,
    rows: np.ndarray,
    lr: float,
    epochs: int,
    lock: Any,
    barrier: Any,
    seed: int,
) -> None:
    torch.set_num_threads(1)
    w = w_shared.numpy()  # the shared memory itself, not a copy
    rng = np.random.default_rng([seed, rank])
    barrier.wait()
    for _ in range(epochs):
        for i in rows[rng.permutation(rows.shape[0])]:
            if lock is None:
                sgd_update(w, idx[i], val[i], y[i], lr)
            else:
                with lock:
                    sgd_update(w, idx[i], val[i], y[i], lr)


def _context() -> Any:
    # fork starts the workers in milliseconds and shares the data without copying; where it
    # is not available (macOS, Windows) spawn works too, only slower to start.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return mp.get_context(method)


def run_hogwild(
    idx: np.ndarray,
    val: np.ndarray,
    y: np.ndarray,
    n_procs: int,
    lr: float = 0.05,
    epochs: int = 1,
    lock: bool = False,
    seed: int = 0,
    d: int | None = None,
    timeout_s: float = 300.0,
) -> dict:
    """SGD by n_procs processes on one shared weight vector, without (Hogwild) or with a lock.

    The samples are dealt round-robin (process p gets rows p, p + P, ...); each process
    makes `epochs` passes over its own rows in a random order and applies `sgd_update` to the
    shared weights (inside one multiprocessing Lock if lock=True); w starts at 0 with d
    entries (default: the largest feature index + 1). The clock starts when all
    processes have started (a barrier) and stops when the last has finished.
    Returns {"n_procs", "lock", "updates", "seconds", "updates_per_s", "loss" (final
    logistic loss on all samples), "w" (final weights, (d,) float64)}.
    """
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    val = np.ascontiguousarray(val, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if not 1 <= n_procs <= 64:
        raise ValueError(f"n_procs must be in 1..64, got {n_procs}")
    ctx = _context()
    d = int(idx.max()) + 1 if d is None else int(d)
    w_shared = torch.zeros(d, dtype=torch.float64).share_memory_()
    the_lock = ctx.Lock() if lock else None
    barrier = ctx.Barrier(n_procs + 1)
    procs = []
    for p in range(n_procs):
        rows = np.arange(p, idx.shape[0], n_procs)
        args = (p, w_shared, idx, val, y, rows, lr, epochs, the_lock, barrier, seed)
        procs.append(ctx.Process(target=_worker, args=args, daemon=True))
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=timeout_s)
    except multiprocessing.BrokenBarrierError:
        for proc in procs:
            proc.terminate()
        raise RuntimeError("the Hogwild workers did not start") from None
    start = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    seconds = time.perf_counter() - start
    failed = [proc.exitcode for proc in procs if proc.exitcode != 0]
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    if failed:
        raise RuntimeError(f"Hogwild workers failed or timed out (exit codes {failed})")
    w = w_shared.numpy().copy()
    updates = idx.shape[0] * epochs
    return {
        "n_procs": n_procs,
        "lock": lock,
        "updates": updates,
        "seconds": seconds,
        "updates_per_s": updates / seconds,
        "loss": logistic_loss(w, idx, val, y),
        "w": w,
    }


def _count_worker(
    rank: int, w_shared: torch.Tensor, d: int, nnz: int, updates: int, barrier: Any, seed: int
) -> None:
    w = w_shared.numpy()
    rng = np.random.default_rng([seed, rank])
    picks = distinct_indices(rng, updates, d, nnz)
    barrier.wait()
    for cols in picks:
        w[cols] += 1.0  # a read-modify-write: another process's write in between is lost


def lost_updates(
    d: int, nnz: int, n_procs: int, updates: int, seed: int = 0, timeout_s: float = 120.0
) -> dict:
    """Count the additions lost to conflicting writes when processes share a vector unlocked.

    Each of n_procs processes adds 1.0 to nnz random coordinates (all d when nnz = d) of a
    shared zero vector, `updates` times, with the same numpy read-modify-write as
    `sgd_update`. Without conflicts the vector sums to n_procs * updates * nnz; every
    addition overwritten by another process's write is missing from the sum.
    Returns {"expected", "counted", "lost", "lost_fraction", "seconds"}.
    """
    if not 1 <= nnz <= d:
        raise ValueError(f"need 1 <= nnz <= d, got nnz={nnz}, d={d}")
    ctx = _context()
    w_shared = torch.zeros(int(d), dtype=torch.float64).share_memory_()
    barrier = ctx.Barrier(n_procs + 1)
    procs = [
        ctx.Process(
            target=_count_worker,
            args=(p, w_shared, d, nnz, updates, barrier, seed),
            daemon=True,
        )
        for p in range(n_procs)
    ]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=timeout_s)
    start = time.perf_counter()
    for proc in procs:
        proc.join(timeout_s)
    seconds = time.perf_counter() - start
    if any(proc.exitcode != 0 for proc in procs):
        raise RuntimeError("a counting worker failed or timed out")
    expected = n_procs * updates * nnz
    counted = float(w_shared.sum())
    return {
        "expected": expected,
        "counted": counted,
        "lost": expected - counted,
        "lost_fraction": (expected - counted) / expected,
        "seconds": seconds,
    }
