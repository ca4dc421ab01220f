"""Gradient compression for data-parallel SGD (assignment C2): what a worker sends, and its cost.

A worker that would send its full gradient g (n float32 numbers, 4 n bytes) sends a smaller
message instead; the server (or the other workers) rebuilds an approximation of g from it.
This module holds the compressors as plain functions on numpy arrays:

- top-k sparsification: the k = ceil(ratio * n) entries of largest |g| as (indices, values);
- 1-bit quantization: one sign bit per entry plus two float scales (see `onebit_compress`);
- QSGD: unbiased stochastic rounding of |g_i| / ||g||_2 to one of s + 1 levels;
- error feedback: the part of the gradient a compressor dropped is added to the next one;
- Deep Gradient Compression (Lin et al., ICLR 2018): top-k with momentum correction,
  momentum factor masking, local gradient clipping and a sparsity warm-up;

and the number of bytes each message holds. Byte counts use one fixed encoding throughout:
values are 4-byte float32, indices 4-byte int32, sign or level codes are packed bits
(rounded up to whole bytes), and each float scale is 4 bytes. They count a worker's own
message (its payload), not what a collective moves on the wire (see
`effdl.ddp_hooks.ring_wire_bytes`).

`train_workers` simulates K workers with their own least-squares data sending compressed
gradients to a parameter server; it shows the lesson of error feedback (without it, top-k
and 1-bit stall away from the optimum; with it they reach it).

Inputs are vectors of shape (n,) or (n, 1), numpy arrays or lists; outputs are new float64
arrays of shape (n,) (inputs are never modified). Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from effdl.distributed import terngrad

FLOAT_BYTES = 4  # a float32 value or scale
INDEX_BYTES = 4  # an int32 index
DGC_WARMUP_SPARSITY = (0.75, 0.9375, 0.984375, 0.99609375)  # epochs 0..3 (density 4^-(e+1))
DGC_FINAL_SPARSITY = 0.999

Roundtrip = Callable[[np.ndarray], np.ndarray]


def _as_vector(a: np.ndarray, name: str) -> np.ndarray:
    """`a` as a new float64 array of shape (n,), n >= 1; shapes (n,) and (n, 1) are accepted."""
    arr = np.array(a, dtype=np.float64)
    shape = arr.shape
    if arr.ndim == 2 and shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a vector of shape (n,) or (n, 1), got shape {shape}")
    return arr


def _check_ratio(ratio: float) -> float:
    ratio = float(ratio)
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    return ratio


# ---------------------------------------------------------------- top-k
def topk_count(n: int, ratio: float) -> int:
    """The number of entries top-k keeps: k = ceil(ratio * n), at least 1, at most n.

    ratio * n is rounded to 9 decimals before the ceiling, so that float noise does not add
    an entry (0.1 * 30 is 3.0000000000000004 in floating point; k is 3, not 4).
    """
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    ratio = _check_ratio(ratio)
    return int(min(n, max(1, math.ceil(round(ratio * int(n), 9)))))


def topk_compress(g: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Top-k sparsification: keep the k = topk_count(n, ratio) entries of g of largest |g_i|.

    g: (n,) or (n, 1); ratio in (0, 1]. Returns (indices, values): int64 indices of shape
    (k,), here in increasing order (any order is correct, each index once), and the float64
    values g[indices]. The selection is by
    magnitude, not by signed value; among entries of equal |g_i| any choice is correct (this
    one keeps the lower indices). Message size: `topk_bytes(k)`.
    """
    g = _as_vector(g, "g")
    k = topk_count(g.shape[0], ratio)
    order = np.argsort(-np.abs(g), kind="stable")
    indices = np.sort(order[:k]).astype(np.int64)
    return indices, g[indices]


def topk_decompress(indices: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Scatter (indices, values) back into a dense float64 vector of length n, zeros elsewhere.

    indices: (k,) distinct integers in [0, n); values: (k,). The inverse of `topk_compress`
    on the kept entries.
    """
    idx = np.asarray(indices)
    vals = np.asarray(values, dtype=np.float64).reshape(-1)
    if idx.ndim != 1 or idx.shape != vals.shape:
        raise ValueError(f"indices {idx.shape} and values {vals.shape} must be equal (k,) shapes")
    if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"indices must be integers in [0, {n})")
    if np.unique(idx).size != idx.size:
        raise ValueError("indices must be distinct")
    out = np.zeros(int(n))
    out[idx] = vals
    return out


def topk_sparsify(g: np.ndarray, ratio: float) -> np.ndarray:
    """topk_decompress(topk_compress(g, ratio)): g with all but its top-k entries zeroed."""
    g = _as_vector(g, "g")
    return topk_decompress(*topk_compress(g, ratio), g.shape[0])


# ---------------------------------------------------------------- 1-bit
def onebit_compress(g: np.ndarray) -> tuple[np.ndarray, float, float]:
    """1-bit quantization with two reconstruction values (Seide et al., Interspeech 2014).

    The rule: entries with g_i >= 0 form the "+" group (bit True), entries with g_i < 0 the
    "-" group (bit False). Each group is rebuilt as the mean of its own entries: pos_mean =
    mean of g_i over the "+" group (0 when empty), neg_mean = mean over the "-" group (0 when
    empty). Given the signs, these two values minimize the squared reconstruction error, and
    the rebuilt vector has exactly the sum of g (which is why error feedback keeps so little
    residual mass). g: (n,) or (n, 1). Returns (bits, pos_mean, neg_mean): a bool array of
    shape (n,) and two floats. Message size: `onebit_bytes(n)`.
    """
    g = _as_vector(g, "g")
    bits = g >= 0
    pos_mean = float(g[bits].mean()) if bits.any() else 0.0
    neg_mean = float(g[~bits].mean()) if (~bits).any() else 0.0
    return bits, pos_mean, neg_mean


def onebit_decompress(bits: np.ndarray, pos_mean: float, neg_mean: float) -> np.ndarray:
    """Rebuild a 1-bit message: pos_mean where bits is True, neg_mean elsewhere ((n,) float64)."""
    bits = np.asarray(bits, dtype=bool).reshape(-1)
    return np.where(bits, float(pos_mean), float(neg_mean))


def onebit_quantize(g: np.ndarray) -> np.ndarray:
    """onebit_decompress(onebit_compress(g)): the 1-bit reconstruction of g, shape (n,)."""
    return onebit_decompress(*onebit_compress(g))


# ---------------------------------------------------------------- QSGD
def qsgd_quantize(v: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    """QSGD stochastic quantization with s levels (Alistarh et al., NeurIPS 2017).

    With r_i = s |v_i| / ||v||_2 and l_i = floor(r_i), entry i becomes
    ||v||_2 sign(v_i) xi_i / s with xi_i = l_i + 1 with probability r_i - l_i and l_i otherwise,
    independently per entry (one draw of rng.random(n)). E[Q(v)] = v, and
    E||Q(v) - v||^2 <= min(n / s^2, sqrt(n) / s) ||v||^2. A zero vector stays zero.
    v: (n,) or (n, 1); s: an integer >= 1; rng: a numpy Generator (required: the caller owns
    the randomness). Returns a float64 array of shape (n,). Message size: `qsgd_bytes(n, s)`.
    """
    v = _as_vector(v, "v")
    if not isinstance(s, int | np.integer) or s < 1:
        raise ValueError(f"s must be an integer >= 1, got {s!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    u = rng.random(v.shape[0])
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return np.zeros(v.shape)
    r = s * np.abs(v) / norm
    level = np.floor(r)
    level += u < (r - level)
    return norm * np.sign(v) * level / s


def qsgd_variance_bound(n: int, s: int) -> float:
    """min(n / s^2, sqrt(n) / s): E||Q_s(v) - v||^2 is at most this times ||v||^2."""
    return min(n / s**2, math.sqrt(n) / s)


# ---------------------------------------------------------------- bytes per message
def dense_bytes(n: int) -> int:
    """An uncompressed float32 gradient of n entries: 4 n bytes."""
    return FLOAT_BYTES * int(n)


def topk_bytes(k: int) -> int:
    """k (int32 index, float32 value) pairs: 8 k bytes."""
    return (INDEX_BYTES + FLOAT_BYTES) * int(k)


def onebit_bytes(n: int) -> int:
    """n sign bits packed into ceil(n / 8) bytes, plus the two float32 means: ceil(n/8) + 8."""
    return math.ceil(int(n) / 8) + 2 * FLOAT_BYTES


def qsgd_level_bits(s: int) -> int:
    """Bits for one level 0..s in a fixed-width code: ceil(log2(s + 1))."""
    return max(1, math.ceil(math.log2(int(s) + 1)))


def qsgd_bytes(n: int, s: int) -> int:
    """The float32 norm plus n (sign bit + level code) packed: 4 + ceil(n (1 + bits(s)) / 8).

    A fixed-width code; the paper's Elias coding of the sparse levels is smaller for small s.
    """
    return FLOAT_BYTES + math.ceil(int(n) * (1 + qsgd_level_bits(s)) / 8)


def terngrad_bytes(n: int) -> int:
    """TernGrad: 2 bits per entry (-1, 0, +1) packed, plus the float32 scaler s."""
    return FLOAT_BYTES + math.ceil(2 * int(n) / 8)


# ---------------------------------------------------------------- error feedback
def error_feedback_step(
    g: np.ndarray, e: np.ndarray, roundtrip: Roundtrip
) -> tuple[np.ndarray, np.ndarray]:
    """One step of error feedback around a compressor (Seide et al. 2014; Karimireddy et al.).

    p = g + e is compressed and rebuilt, sent = roundtrip(p), and what was lost becomes the
    next residual, e_new = p - sent. g, e: (n,) or (n, 1); roundtrip: a function from an (n,)
    vector to its rebuilt (n,) approximation, e.g. ``lambda p: topk_sparsify(p, 0.1)``.
    Returns (sent, e_new), float64 arrays of shape (n,). Summed over steps,
    sum(sent) + e_final = sum(g) + e_0: nothing the compressor drops is lost for good.
    """
    g = _as_vector(g, "g")
    e = _as_vector(e, "e")
    if e.shape != g.shape:
        raise ValueError(f"e must have the shape of g {g.shape}, got {e.shape}")
    p = g + e
    sent = _as_vector(roundtrip(p.copy()), "roundtrip(p)")
    if sent.shape != p.shape:
        raise ValueError(f"roundtrip returned shape {sent.shape}, expected {p.shape}")
    return sent, p - sent


def error_feedback_run(
    grads: np.ndarray, roundtrip: Roundtrip, e0: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Apply `error_feedback_step` to a sequence of gradients with one residual carried along.

    grads: (T, n), the gradients in order; e0: the starting residual (default zeros).
    Returns (sent, e_final): sent of shape (T, n) (row t is what step t sends) and the
    residual after the last step, shape (n,).
    """
    G = np.array(grads, dtype=np.float64)
    if G.ndim != 2 or G.shape[1] == 0:
        raise ValueError(f"grads must have shape (T, n), got {G.shape}")
    e = np.zeros(G.shape[1]) if e0 is None else _as_vector(e0, "e0")
    sent = np.zeros(G.shape)
    for t in range(G.shape[0]):
        sent[t], e = error_feedback_step(G[t], e, roundtrip)
    return sent, e


# ---------------------------------------------------------------- Deep Gradient Compression
def clip_by_norm(g: np.ndarray, max_norm: float) -> np.ndarray:
    """Scale g down to L2 norm max_norm if it is longer: g * min(1, max_norm / ||g||_2)."""
    g = _as_vector(g, "g")
    if not max_norm >= 0:
        raise ValueError(f"max_norm must be a number >= 0, got {max_norm}")
    norm = float(np.linalg.norm(g))
    return g * (max_norm / norm) if norm > max_norm else g


def dgc_sparsity(
    epoch: int, warmup_epochs: int = 4, final_sparsity: float = DGC_FINAL_SPARSITY
) -> float:
    """DGC's exponential sparsity warm-up: the fraction of entries NOT sent in epoch `epoch`.

    During the first warmup_epochs epochs the density (fraction sent) falls by a factor of 4
    per epoch, density = 4^-(epoch + 1), i.e. sparsity 75%, 93.75%, 98.4375%, 99.6%; from
    then on (and whenever the warm-up value would pass it) it is final_sparsity (99.9%).
    epoch counts from 0. top-k then uses ratio = 1 - sparsity.
    """
    if not isinstance(epoch, int | np.integer) or epoch < 0:
        raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}")
    if not 0.0 <= final_sparsity < 1.0:
        raise ValueError(f"final_sparsity must be in [0, 1), got {final_sparsity}")
    if epoch >= warmup_epochs:
        return float(final_sparsity)
    return float(min(1.0 - 0.25 ** (int(epoch) + 1), final_sparsity))


def dgc_step(
    g: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    ratio: float,
    momentum: float = 0.9,
    clip_norm: float | None = None,
    n_workers: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One worker's step of Deep Gradient Compression (Lin, Han, Mao, Wang, Dally, ICLR 2018).

    1. local gradient clipping (if clip_norm is given): g <- clip_by_norm(g, clip_norm /
       sqrt(n_workers)), since the K workers' gradients add up in the average;
    2. momentum correction: u <- momentum * u + g, v <- v + u (the worker accumulates the
       momentum-corrected update, not the raw gradient);
    3. send the top-k of v (k = topk_count(n, ratio), by |v|);
    4. momentum factor masking: u and v are set to 0 where an entry was sent, so a sent
       coordinate's stale momentum does not keep pushing it.
    g, u, v: (n,) or (n, 1), u and v the worker's state (zeros at the start). The server
    applies w <- w - lr * (mean of the workers' sent vectors). A coordinate that waits for
    its turn gathers momentum in u and v; once sent, it starts again from zero (so with
    ratio = 1 every coordinate is sent and masked each step, which is plain SGD; without the
    masking it would be momentum SGD). Returns (indices, values, u_new, v_new); the inputs
    are not modified.
    """
    g = _as_vector(g, "g")
    u = _as_vector(u, "u")
    v = _as_vector(v, "v")
    if not (u.shape == v.shape == g.shape):
        raise ValueError(f"g {g.shape}, u {u.shape} and v {v.shape} must have one shape")
    if not isinstance(n_workers, int | np.integer) or n_workers < 1:
        raise ValueError(f"n_workers must be an integer >= 1, got {n_workers!r}")
    if clip_norm is not None:
        g = clip_by_norm(g, clip_norm / math.sqrt(n_workers))
    u = momentum * u + g
    v = v + u
    indices, values = topk_compress(v, ratio)
    u[indices] = 0.0
    v[indices] = 0.0
    return indices, values, u, v


# ---------------------------------------------------------------- simulated workers
METHODS = ("none", "topk", "onebit", "qsgd", "terngrad", "dgc", "momentum")


def message_bytes(method: str, n: int, ratio: float = 0.01, s: int = 4) -> int:
    """Bytes one worker's message holds for `method` (see `train_workers`) on n entries."""
    if method in ("none", "momentum"):
        return dense_bytes(n)
    if method in ("topk", "dgc"):
        return topk_bytes(topk_count(n, ratio))
    if method == "onebit":
        return onebit_bytes(n)
    if method == "qsgd":
        return qsgd_bytes(n, s)
    if method == "terngrad":
        return terngrad_bytes(n)
    raise ValueError(f"unknown method {method!r}: expected one of {METHODS}")


def least_squares_workers(
    n_workers: int, rows: int, dim: int, rng: np.random.Generator, spread: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Heterogeneous least-squares data: worker k holds A_k (rows, dim) and b_k (rows,).

    Entries of A_k are N(0, 1); b_k = A_k w_k with a worker-specific w_k = w0 + spread * d_k
    (w0, d_k standard normal), so the workers disagree and the joint optimum is not any
    worker's own. Returns (A, b) of shapes (n_workers, rows, dim) and (n_workers, rows).
    """
    A = rng.standard_normal((n_workers, rows, dim))
    w = rng.standard_normal(dim) + spread * rng.standard_normal((n_workers, dim))
    return A, np.einsum("krd,kd->kr", A, w)


def least_squares_optimum(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The minimizer of sum_k ||A_k w - b_k||^2 over all workers' rows, shape (dim,)."""
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.linalg.lstsq(A.reshape(-1, A.shape[2]), b.reshape(-1), rcond=None)[0]


def train_workers(
    A: np.ndarray,
    b: np.ndarray,
    method: str,
    lr: float,
    steps: int,
    error_feedback: bool = False,
    ratio: float = 0.01,
    s: int = 4,
    momentum: float = 0.9,
    clip_norm: float | None = None,
    rng: np.random.Generator | None = None,
) -> dict:
    """Parameter-server gradient descent where every worker compresses what it sends.

    Worker k's loss is f_k(w) = ||A_k w - b_k||^2 / (2 rows), its gradient
    A_k^T (A_k w - b_k) / rows (full batch: the only noise is the compressor's). Each step,
    every worker sends its (compressed) gradient; the server moves w <- w - lr * mean(sent).
    method: "none" (dense), "topk" (ratio), "onebit", "qsgd" (s levels), "terngrad" (own
    scaler), "dgc" (`dgc_step` with ratio, momentum, clip_norm: momentum lives in the
    workers) or "momentum" (dense SGD with momentum: w <- w - lr mean(u_k), u_k <- momentum
    u_k + g_k).
    error_feedback wraps "topk", "onebit", "qsgd" and "terngrad" in `error_feedback_step`
    with one residual per worker ("dgc" always accumulates). rng: a numpy Generator for
    "qsgd" and "terngrad" (default: a fresh default_rng(0)).
    A: (K, rows, dim); b: (K, rows). Returns {"w": final (dim,), "loss": (steps + 1,) the
    mean of the workers' f_k at each iterate, "optimal_loss": that mean at the joint optimum
    w* (the workers disagree, so it is not 0), "distance": (steps + 1,) ||w_t - w*||_2,
    "bytes_per_step": one worker's message, in bytes}.
    """
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if A.ndim != 3 or b.shape != A.shape[:2]:
        raise ValueError(f"A must be (K, rows, dim) and b (K, rows); got {A.shape}, {b.shape}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: expected one of {METHODS}")
    K, rows, dim = A.shape
    rng = np.random.default_rng(0) if rng is None else rng
    w_star = least_squares_optimum(A, b)

    def roundtrip(p: np.ndarray) -> np.ndarray:
        if method == "topk":
            return topk_sparsify(p, ratio)
        if method == "onebit":
            return onebit_quantize(p)
        if method == "qsgd":
            return qsgd_quantize(p, s, rng)
        if method == "terngrad":
            return terngrad(p, rng=rng)
        return p

    def mean_loss(w: np.ndarray) -> float:
        r = np.einsum("krd,d->kr", A, w) - b
        return float(np.mean(np.sum(r**2, axis=1) / (2 * rows)))

    w = np.zeros(dim)
    e = np.zeros((K, dim))
    u = np.zeros((K, dim))
    v = np.zeros((K, dim))
    loss, distance = [mean_loss(w)], [float(np.linalg.norm(w - w_star))]
    for _ in range(steps):
        grads = np.einsum("krd,kr->kd", A, np.einsum("krd,d->kr", A, w) - b) / rows
        sent = np.zeros((K, dim))
        for k in range(K):
            if method == "dgc":
                idx, vals, u[k], v[k] = dgc_step(
                    grads[k], u[k], v[k], ratio, momentum, clip_norm, K
                )
                sent[k, idx] = vals
            elif method == "momentum":
                u[k] = momentum * u[k] + grads[k]
                sent[k] = u[k]
            elif error_feedback and method != "none":
                sent[k], e[k] = error_feedback_step(grads[k], e[k], roundtrip)
            else:
                sent[k] = roundtrip(grads[k])
        w = w - lr * sent.mean(axis=0)
        loss.append(mean_loss(w))
        distance.append(float(np.linalg.norm(w - w_star)))
    return {
        "w": w,
        "loss": np.array(loss),
        "optimal_loss": mean_loss(w_star),
        "distance": np.array(distance),
        "bytes_per_step": message_bytes(method, dim, ratio, s),
    }


# ---------------------------------------------------------------- the top-k DDP hook, in numpy
def simulate_topk_hook(grads: np.ndarray, ratio: float, error_feedback: bool = True) -> dict:
    """What `effdl.ddp_hooks.topk_hook` returns, in numpy (float32, as the hook computes).

    grads: (steps, world_size, n), rank r's bucket gradient at each step (one bucket).
    Returns {"averaged": (steps, n) the gradient every rank gets at each step, "bytes":
    (steps, world_size) each rank's payload per step (8 k), "cut_gap": the smallest
    difference between the k-th and (k+1)-th largest |p| over ranks and steps (near 0 means
    a tie, which torch.topk may resolve otherwise than the lower index used here)}.
    """
    G = np.asarray(grads, dtype=np.float32)
    if G.ndim != 3:
        raise ValueError(f"grads must have shape (steps, world_size, n), got {G.shape}")
    steps, world, n = G.shape
    k = topk_count(n, ratio)
    e = np.zeros((world, n), dtype=np.float32)
    averaged = np.zeros((steps, n), dtype=np.float32)
    gap = math.inf
    for t in range(steps):
        total = np.zeros(n, dtype=np.float32)
        for r in range(world):
            p = G[t, r] + e[r] if error_feedback else G[t, r].copy()
            idx = np.argsort(-np.abs(p), kind="stable")[:k]
            if k < n:
                ordered = np.sort(np.abs(p.astype(np.float64)))[::-1]
                gap = min(gap, float(ordered[k - 1] - ordered[k]))
            sent = np.zeros(n, dtype=np.float32)
            sent[idx] = p[idx]
            if error_feedback:
                e[r] = p - sent
            total += sent
        averaged[t] = total / np.float32(world)
    return {
        "averaged": averaged,
        "bytes": np.full((steps, world), topk_bytes(k), dtype=np.int64),
        "cut_gap": gap,
    }
