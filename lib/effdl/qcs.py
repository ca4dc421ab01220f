"""Quantized compressive sensing of sparse gradients (assignment C3; Mitra and Khisti).

A worker whose gradient g (length N) is sparse sends y = Q_b(Phi g): M < N random
projections, each quantized to b bits. Phi is an M x N Gaussian matrix that the workers and
the server draw from one shared seed, so it is never sent. The server recovers each worker's
gradient by l1-regularized least squares, solved with ISTA, averages the recovered
gradients and takes an SGD step. With enough measurements (M of the order of s log(N / s)
for an s-sparse g) recovery succeeds; with too few it fails.

Conventions:
- `gaussian_matrix` has N(0, 1/M) entries, so E||Phi x||^2 = ||x||^2.
- `uniform_quantize` uses the range rule R = max_i |y_i| of the message itself (sent as one
  float32), and 2^b levels spread evenly over [-R, R], endpoints included; a message costs
  `qcs_bytes(M, b)` = ceil(b M / 8) + 4 bytes.
- `ista` minimizes 1/2 ||y - Phi x||^2 + lam ||x||_1 with step 1/L, L = ||Phi||_2^2, using
  `effdl.sparse_opt.soft_threshold` for the proximal step.

numpy only: nothing here imports torch. Vectors may be (n,) or (n, 1); outputs are float64.
"""

from __future__ import annotations

import math

import numpy as np

from effdl.compression import dense_bytes, terngrad_bytes
from effdl.distributed import terngrad
from effdl.sparse_opt import soft_threshold


def _as_vector(a: np.ndarray, name: str) -> np.ndarray:
    arr = np.array(a, dtype=np.float64)
    shape = arr.shape
    if arr.ndim == 2 and shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a vector of shape (n,) or (n, 1), got shape {shape}")
    return arr


def _as_matrix(Phi: np.ndarray) -> np.ndarray:
    Phi = np.asarray(Phi, dtype=np.float64)
    if Phi.ndim != 2 or Phi.size == 0:
        raise ValueError(f"Phi must be a matrix of shape (M, N), got shape {Phi.shape}")
    return Phi


def gaussian_matrix(M: int, N: int, rng: np.random.Generator) -> np.ndarray:
    """An (M, N) measurement matrix with independent N(0, 1/M) entries, drawn from rng.

    The 1/M variance makes E||Phi x||_2^2 = ||x||_2^2 for every x.
    """
    if not (isinstance(M, int | np.integer) and isinstance(N, int | np.integer)) or min(M, N) < 1:
        raise ValueError(f"M and N must be integers >= 1, got {M!r}, {N!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    return rng.standard_normal((int(M), int(N))) / math.sqrt(M)


def quantizer_levels(bits: int, R: float) -> np.ndarray:
    """The 2^bits reconstruction levels of `uniform_quantize` for range R: R (-1 + 2j / (2^b - 1))."""
    if not isinstance(bits, int | np.integer) or bits < 1:
        raise ValueError(f"bits must be an integer >= 1, got {bits!r}")
    n = 2 ** int(bits) - 1
    return R * (-1.0 + 2.0 * np.arange(n + 1) / n)


def uniform_quantize(y: np.ndarray, bits: int, R: float | None = None) -> np.ndarray:
    """b-bit uniform quantization of a vector onto 2^b evenly spaced levels in [-R, R].

    Range rule: R = max_i |y_i| unless given (values beyond a given R are clipped to it). The
    levels are R (-1 + 2 j / (2^b - 1)), j = 0 .. 2^b - 1, so -R and R are levels, the spacing
    is 2 R / (2^b - 1), and each entry moves to its nearest level (error at most
    R / (2^b - 1); an entry exactly halfway goes to the level with the even index j, as
    numpy's rint rounds, and either neighbour is correct). 1 bit gives sign(y_i) R. y: (M,) or (M, 1). Returns float64 (M,); all
    zeros when R = 0. Cost of the message: `qcs_bytes(M, bits)` (b bits per entry + R).
    """
    y = _as_vector(y, "y")
    if not isinstance(bits, int | np.integer) or bits < 1:
        raise ValueError(f"bits must be an integer >= 1, got {bits!r}")
    R = float(np.max(np.abs(y))) if R is None else float(R)
    if not R >= 0:
        raise ValueError(f"the range R must be >= 0, got {R}")
    if R == 0.0:
        return np.zeros(y.shape)
    n = 2 ** int(bits) - 1
    j = np.rint((np.clip(y, -R, R) + R) * n / (2.0 * R))  # nearest level index 0..n
    return R * (-1.0 + 2.0 * j / n)


def qcs_measure(g: np.ndarray, Phi: np.ndarray, bits: int) -> np.ndarray:
    """A worker's message: y = uniform_quantize(Phi g, bits). g: (N,); Phi: (M, N); y: (M,)."""
    Phi = _as_matrix(Phi)
    g = _as_vector(g, "g")
    if g.shape[0] != Phi.shape[1]:
        raise ValueError(f"g has {g.shape[0]} entries but Phi has {Phi.shape[1]} columns")
    return uniform_quantize(Phi @ g, bits)


def qcs_bytes(M: int, bits: int) -> int:
    """Bytes of one quantized measurement vector: M b-bit codes packed, plus R as a float32."""
    return math.ceil(int(M) * int(bits) / 8) + 4


def lipschitz_constant(Phi: np.ndarray) -> float:
    """L = ||Phi||_2^2, the largest eigenvalue of Phi^T Phi (squared largest singular value).

    The gradient Phi^T (Phi x - y) of the data term is L-Lipschitz; ISTA's step is 1 / L.
    Computed as the largest eigenvalue of the smaller Gram matrix (Phi Phi^T when M < N).
    """
    Phi = _as_matrix(Phi)
    gram = Phi @ Phi.T if Phi.shape[0] <= Phi.shape[1] else Phi.T @ Phi
    return float(np.linalg.eigvalsh(gram)[-1])


def lasso_objective(x: np.ndarray, y: np.ndarray, Phi: np.ndarray, lam: float) -> float:
    """1/2 ||y - Phi x||_2^2 + lam ||x||_1."""
    r = _as_vector(y, "y") - _as_matrix(Phi) @ _as_vector(x, "x")
    return float(0.5 * r @ r + lam * np.sum(np.abs(x)))


def ista(
    y: np.ndarray,
    Phi: np.ndarray,
    lam: float,
    steps: int = 500,
    x0: np.ndarray | None = None,
    step: float | None = None,
    L: float | None = None,
) -> np.ndarray:
    """ISTA for min_x 1/2 ||y - Phi x||^2 + lam ||x||_1.

    x <- S_{lam t}(x + t Phi^T (y - Phi x)) for `steps` iterations from x0 (default 0), with
    t = 1 / L, L = ||Phi||_2^2 (`lipschitz_constant`), and S the soft threshold
    (`soft_threshold`). With t <= 1/L the objective never increases; larger steps may
    oscillate or diverge, so a step above 1 / L is refused. y: (M,); Phi: (M, N); lam >= 0;
    L: `lipschitz_constant(Phi)` when the caller has it already (it is computed otherwise).
    Returns x of shape (N,).
    """
    Phi = _as_matrix(Phi)
    y = _as_vector(y, "y")
    if y.shape[0] != Phi.shape[0]:
        raise ValueError(f"y has {y.shape[0]} entries but Phi has {Phi.shape[0]} rows")
    if not lam >= 0:
        raise ValueError(f"lam must be a number >= 0, got {lam}")
    if not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    L = lipschitz_constant(Phi) if L is None else float(L)
    t = 1.0 / L if step is None else float(step)
    if not 0 < t <= (1.0 / L) * (1 + 1e-12):
        raise ValueError(f"the step must be in (0, 1/L] = (0, {1.0 / L:.6g}], got {t}")
    x = np.zeros(Phi.shape[1]) if x0 is None else _as_vector(x0, "x0")
    for _ in range(int(steps)):
        x = soft_threshold(x + t * (Phi.T @ (y - Phi @ x)), lam * t)
    return x


def recovery_error(x_hat: np.ndarray, x: np.ndarray) -> float:
    """Relative error ||x_hat - x||_2 / ||x||_2 (absolute error when x = 0)."""
    x_hat, x = _as_vector(x_hat, "x_hat"), _as_vector(x, "x")
    norm = float(np.linalg.norm(x))
    err = float(np.linalg.norm(x_hat - x))
    return err / norm if norm > 0 else err


def sparse_vector(N: int, s: int, rng: np.random.Generator) -> np.ndarray:
    """An (N,) vector with s entries N(0, 1) at positions chosen uniformly, zeros elsewhere."""
    if not 0 <= s <= N:
        raise ValueError(f"need 0 <= s <= N, got s={s}, N={N}")
    x = np.zeros(int(N))
    x[rng.choice(int(N), size=int(s), replace=False)] = rng.standard_normal(int(s))
    return x


def recover(
    y: np.ndarray,
    Phi: np.ndarray,
    lam_ratio: float = 1e-3,
    steps: int = 500,
    L: float | None = None,
) -> np.ndarray:
    """ISTA with lam = lam_ratio * ||Phi^T y||_inf (a scale-free choice of the penalty).

    For lam >= ||Phi^T y||_inf the solution is x = 0, so lam_ratio in (0, 1) sets how much
    of that range is penalized; small values recover small entries at the cost of more
    iterations. L as in `ista`. Returns x of shape (N,).
    """
    Phi = _as_matrix(Phi)
    lam = lam_ratio * float(np.max(np.abs(Phi.T @ _as_vector(y, "y"))))
    return ista(y, Phi, lam, steps, L=L)


def recovery_trial(
    N: int,
    M: int,
    s: int,
    bits: int | None,
    rng: np.random.Generator,
    lam_ratio: float = 1e-3,
    steps: int = 500,
) -> float:
    """Relative recovery error of one random s-sparse x from M measurements (bits=None: exact).

    Draws Phi = gaussian_matrix(M, N, rng), then x = sparse_vector(N, s, rng), measures
    y = Q_bits(Phi x) (no quantization when bits is None) and recovers with `recover`.
    """
    Phi = gaussian_matrix(M, N, rng)
    x = sparse_vector(N, s, rng)
    y = Phi @ x if bits is None else uniform_quantize(Phi @ x, bits)
    return recovery_error(recover(y, Phi, lam_ratio, steps), x)


# ---------------------------------------------------------------- distributed SGD with QCS
def sparse_regression_data(
    n_samples: int, N: int, nnz: int, rng: np.random.Generator, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A linear regression with sparse features: every row of X has nnz N(0, 1) entries.

    Returns (X, y, w_true): X (n_samples, N), w_true (N,) standard normal, y = X w_true +
    noise * N(0, 1). The gradient of a batch of B rows has at most B * nnz nonzeros.
    """
    X = np.zeros((int(n_samples), int(N)))
    for i in range(int(n_samples)):
        X[i, rng.choice(int(N), size=int(nnz), replace=False)] = rng.standard_normal(int(nnz))
    w_true = rng.standard_normal(int(N))
    return X, X @ w_true + noise * rng.standard_normal(int(n_samples)), w_true


QCS_METHODS = ("sgd", "terngrad", "qcs")


def train_qcs(
    X: np.ndarray,
    y: np.ndarray,
    method: str,
    n_workers: int = 4,
    lr: float = 0.1,
    steps: int = 200,
    batch: int = 2,
    M: int = 64,
    bits: int = 4,
    lam_ratio: float = 1e-3,
    ista_steps: int = 300,
    rng: np.random.Generator | None = None,
) -> dict:
    """K workers send compressed minibatch gradients to a parameter server; the server steps.

    The loss is the mean squared error f(w) = ||X w - y||^2 / (2 n). Worker k owns the rows
    k, k + K, k + 2K, ... and each step draws `batch` of them; its gradient is
    X_B^T (X_B w - y_B) / batch (sparse when the features are). What it sends:
      "sgd"       the gradient itself (N float32: 32 N bits);
      "terngrad"  `terngrad` of it (2 bits per entry + a 32-bit scaler);
      "qcs"       y_k = Q_bits(Phi g_k) (`qcs_measure`, M b-bit codes + 32 bits); the server
                  recovers g_k with `recover` (ISTA, lam_ratio, ista_steps).
    Phi = gaussian_matrix(M, N, rng) is drawn once and shared. The server averages what it
    rebuilt and sets w <- w - lr * average. rng: numpy Generator for sampling, TernGrad and
    Phi (default default_rng(0)). Returns {"loss": (steps + 1,) f at each iterate,
    "bits": (steps + 1,) cumulative bits sent by one worker, "bits_per_step", "w"}.
    """
    X = np.asarray(X, dtype=np.float64)
    y = _as_vector(y, "y")
    if method not in QCS_METHODS:
        raise ValueError(f"unknown method {method!r}: expected one of {QCS_METHODS}")
    n, N = X.shape
    rng = np.random.default_rng(0) if rng is None else rng
    Phi = gaussian_matrix(M, N, rng) if method == "qcs" else None
    L = lipschitz_constant(Phi) if Phi is not None else None
    shards = [np.arange(k, n, n_workers) for k in range(n_workers)]
    per_step = {
        "sgd": 8 * dense_bytes(N),
        "terngrad": 8 * terngrad_bytes(N),
        "qcs": 8 * qcs_bytes(M, bits),
    }[method]

    def loss(w: np.ndarray) -> float:
        r = X @ w - y
        return float(r @ r / (2 * n))

    w = np.zeros(N)
    losses = [loss(w)]
    for _ in range(steps):
        total = np.zeros(N)
        for shard in shards:
            rows = rng.choice(shard, size=batch, replace=False)
            g = X[rows].T @ (X[rows] @ w - y[rows]) / batch
            if method == "terngrad":
                g = terngrad(g, rng=rng)
            elif method == "qcs":
                g = recover(qcs_measure(g, Phi, bits), Phi, lam_ratio, ista_steps, L)
            total += g
        w = w - lr * total / n_workers
        losses.append(loss(w))
    return {
        "loss": np.array(losses),
        "bits": per_step * np.arange(steps + 1),
        "bits_per_step": per_step,
        "w": w,
    }
