"""Data-parallel SGD with a parameter server, TernGrad and gradient clipping (assignment A2).

Every worker i owns one data point (X_i, y_i) and the loss L_i(W) = (X_i W - y_i)^2. In each
step the workers send their gradients at the current weights to the server, which moves the
weights against the AVERAGE of those gradients. TernGrad and clipping change what a worker
sends. All functions take numpy arrays (or lists) and return new float64 arrays; vectors may
be given as shape (d,) or (d, 1) and always come back as shape (d,).
"""

import numpy as np


def _as_vector(a: np.ndarray, name: str, d: int | None = None) -> np.ndarray:
    """Return `a` as a new float64 array of shape (d,); shapes (d,) and (d, 1) are accepted."""
    arr = np.array(a, dtype=np.float64)
    shape = arr.shape
    if arr.ndim == 2 and shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] == 0 or (d is not None and arr.shape[0] != d):
        want = "(d,) or (d, 1)" if d is None else f"({d},) or ({d}, 1)"
        raise ValueError(f"{name} must be a vector of shape {want}, got shape {shape}")
    return arr


def _as_grads(grads: np.ndarray, d: int) -> np.ndarray:
    """Stack worker gradients (a list of vectors, or an (n, d) array) into an (n, d) array."""
    if isinstance(grads, list | tuple):
        if len(grads) == 0:
            raise ValueError("grads is empty: expected one gradient per worker")
        return np.array([_as_vector(g, f"grads[{i}]", d) for i, g in enumerate(grads)])
    arr = np.array(grads, dtype=np.float64)
    shape = arr.shape
    if arr.ndim == 3 and shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] != d:
        raise ValueError(
            f"grads must be a list of vectors of shape ({d},) or ({d}, 1), or an array of "
            f"shape (n_workers, {d}); got shape {shape}"
        )
    return arr


def _as_dataset(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return X as a float64 (n, d) matrix and y as a float64 (n,) vector."""
    X = np.array(X, dtype=np.float64)
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"X must be a matrix of shape (n, d), got shape {X.shape}")
    return X, _as_vector(y, "y", X.shape[0])


def closed_form(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Solve X W = y exactly for a square, invertible X.

    X: (n, n), one data point per row; y: (n,) or (n, 1) targets.
    Returns W* = X^-1 y as a float64 array of shape (n,).
    """
    X, y = _as_dataset(X, y)
    if X.shape[0] != X.shape[1]:
        raise ValueError(f"X must be square to have an inverse, got shape {X.shape}")
    if np.linalg.matrix_rank(X) < X.shape[0]:
        raise ValueError("X is singular: X W = y has no unique solution")
    return np.linalg.solve(X, y)


def worker_gradient(W: np.ndarray, x: np.ndarray, y: float) -> np.ndarray:
    """Gradient of one worker's loss (x . W - y)^2 with respect to W.

    W: current weights, (d,) or (d, 1); x: the worker's data point, (d,) or (d, 1);
    y: its target (a number). Returns 2 x (x . W - y) as a float64 array of shape (d,).
    """
    W = _as_vector(W, "W")
    x = _as_vector(x, "x", W.shape[0])
    target = np.asarray(y, dtype=np.float64)
    if target.size != 1:
        raise ValueError(f"y must be a single number, got shape {target.shape}")
    return 2.0 * x * (x @ W - target.reshape(-1)[0])


def server_step(W: np.ndarray, grads: np.ndarray, lr: float) -> np.ndarray:
    """One parameter-server update: W - lr * (average of the workers' gradients).

    W: (d,) or (d, 1); grads: a list of n vectors of length d, or an (n, d) array;
    lr: learning rate. Returns the new weights as a float64 array of shape (d,).
    """
    W = _as_vector(W, "W")
    G = _as_grads(grads, W.shape[0])
    return W - lr * (G.sum(axis=0) / G.shape[0])


def terngrad(
    g: np.ndarray, s: float | None = None, rng: np.random.Generator | None = None
) -> np.ndarray:
    """TernGrad: replace a gradient by a random ternary vector with the same expected value.

    Entry j becomes s * sign(g_j) with probability min(|g_j| / s, 1) and 0 otherwise.
    g: (d,) or (d, 1); s: the scaler, None for this gradient's own max |g_j|;
    rng: a numpy Generator (None: a fresh np.random.default_rng()).
    Returns a float64 array of shape (d,) whose entries are 0, s or -s (all zeros when s == 0).
    """
    g = _as_vector(g, "g")
    if s is None:
        s = float(np.max(np.abs(g)))
    if not s >= 0:
        raise ValueError(f"the scaler s must be a number >= 0, got {s}")
    rng = np.random.default_rng(rng)  # None: a fresh generator; a Generator is used as is
    u = rng.random(g.shape[0])
    if s == 0:
        return np.zeros(g.shape)
    keep = u < np.minimum(np.abs(g) / s, 1.0)
    return s * np.sign(g) * keep


def clip_gradient(g: np.ndarray, T: float) -> np.ndarray:
    """Clip every entry of the gradient g ((d,) or (d, 1)) into [-T, T].

    Returns a float64 array of shape (d,).
    """
    g = _as_vector(g, "g")
    if not T >= 0:
        raise ValueError(f"the clipping threshold T must be a number >= 0, got {T}")
    return np.minimum(np.maximum(g, -T), T)


def train_distributed(
    X: np.ndarray,
    y: np.ndarray,
    lr: float = 0.1,
    steps: int = 50,
    clip: float | None = None,
    ternary: bool = False,
    scaler: float | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate parameter-server SGD: worker i holds row X[i] and target y[i]; W starts at 0.

    In every step each worker computes its gradient at the current W, clips it into
    [-clip, clip] if clip is given, and ternarizes it if ternary is True (with s = scaler if
    given, else its own max |g|; workers 0, 1, ... in turn draw from the one generator rng).
    The server then takes the average step with learning rate lr.
    X: (n_workers, d); y: (n_workers,) or (n_workers, 1).
    Returns (W_hist, losses): W_hist of shape (steps + 1, d) with W_hist[0] the start, and
    losses of shape (steps, n_workers) with losses[k, i] = (X[i] W - y[i])^2 after step k + 1.
    """
    X, y = _as_dataset(X, y)
    if not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if scaler is not None and not ternary:
        raise ValueError("scaler is only used by TernGrad: pass ternary=True with it")
    if ternary:
        rng = np.random.default_rng(rng)  # one generator shared by all workers and steps
    W_hist = np.zeros((steps + 1, X.shape[1]))
    W = W_hist[0].copy()
    for k in range(steps):
        grads = []
        for i in range(X.shape[0]):
            g = worker_gradient(W, X[i], y[i])
            if clip is not None:
                g = clip_gradient(g, clip)
            if ternary:
                g = terngrad(g, scaler, rng)
            grads.append(g)
        W = server_step(W, grads, lr)
        W_hist[k + 1] = W
    losses = (W_hist[1:] @ X.T - y) ** 2
    return W_hist, losses
