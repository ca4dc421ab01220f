"""Sparsity-inducing optimization of a small linear model (assignment A3).

The data loss is the SUM of squared errors L(W) = sum_i (X_i W - y_i)^2, minimized by
full-batch gradient descent from W = 0. The methods differ in what happens around each
gradient step: nothing (plain GD), keeping only the k largest weights (iterative pruning),
an L1 subgradient, soft thresholding (proximal gradient) or soft thresholding of only the
smallest entries (trimmed L1). All functions take numpy arrays (or lists) and return new
float64 arrays; vectors may be given as shape (d,) or (d, 1) and come back as shape (d,).
"""

import numpy as np


def _as_weights(a: np.ndarray, name: str, d: int | None = None) -> np.ndarray:
    """Return `a` as a new float64 array of shape (d,); shapes (d,) and (d, 1) are accepted."""
    arr = np.array(a, dtype=np.float64)
    shape = arr.shape
    if arr.ndim == 2 and shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] == 0 or (d is not None and arr.shape[0] != d):
        want = "(d,) or (d, 1)" if d is None else f"({d},) or ({d}, 1)"
        raise ValueError(f"{name} must be a vector of shape {want}, got shape {shape}")
    return arr


def _as_regression_data(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return X as a float64 (n, d) matrix and y as a float64 (n,) vector."""
    X = np.array(X, dtype=np.float64)
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"X must be a matrix of shape (n, d), got shape {X.shape}")
    return X, _as_weights(y, "y", X.shape[0])


def loss_and_grad(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Data loss and its gradient for the linear model.

    W: (d,) or (d, 1); X: (n, d), one data point per row; y: (n,) or (n, 1).
    Returns (L, grad): L = sum_i (X_i W - y_i)^2 as a float, grad = 2 X^T (X W - y) as a
    float64 array of shape (d,).
    """
    X, y = _as_regression_data(X, y)
    W = _as_weights(W, "W", X.shape[1])
    residual = X @ W - y
    return float(residual @ residual), 2.0 * X.T @ residual


def project_top_k(W: np.ndarray, k: int) -> np.ndarray:
    """Keep the k entries of W with the largest |W| and set the others to zero.

    Exactly min(k, d) entries are kept, also when |W| ties at the edge of the selection; any
    choice among the tied entries is right (the lower index first is one).
    W: (d,) or (d, 1); k: an integer >= 0. Returns a new float64 array of shape (d,).
    """
    W = _as_weights(W, "W")
    if not isinstance(k, int | np.integer) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    order = (-np.abs(W)).argsort(kind="stable")
    out = np.zeros(W.shape)
    out[order[:k]] = W[order[:k]]
    return out


def soft_threshold(v: np.ndarray, t: float) -> np.ndarray:
    """Soft thresholding S_t(v) = sign(v) * max(|v| - t, 0), entry by entry.

    v: (d,) or (d, 1); t: threshold >= 0. Returns a new float64 array of shape (d,).
    """
    v = _as_weights(v, "v")
    if not t >= 0:
        raise ValueError(f"the threshold t must be a number >= 0, got {t}")
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def trimmed_soft_threshold(v: np.ndarray, t: float, n_trim: int = 3) -> np.ndarray:
    """Soft-threshold only the n_trim entries of v with the smallest |v|; keep the others.

    Exactly min(n_trim, d) entries are thresholded, also when |v| ties at the edge of the
    selection; any choice among the tied entries is right (the lower index first is one).
    v: (d,) or (d, 1); t: threshold >= 0. Returns a new float64 array of shape (d,).
    """
    v = _as_weights(v, "v")
    if not t >= 0:
        raise ValueError(f"the threshold t must be a number >= 0, got {t}")
    if not isinstance(n_trim, int | np.integer) or n_trim < 0:
        raise ValueError(f"n_trim must be an integer >= 0, got {n_trim!r}")
    smallest = np.abs(v).argsort(kind="stable")[:n_trim]
    out = v.copy()
    out[smallest] = np.sign(v[smallest]) * np.maximum(np.abs(v[smallest]) - t, 0.0)
    return out


def train_sparse(
    X: np.ndarray,
    y: np.ndarray,
    method: str,
    mu: float = 0.02,
    steps: int = 200,
    lam: float | None = None,
    threshold: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch gradient descent on L(W) = sum_i (X_i W - y_i)^2 from W = 0, step size mu.

    method, what follows each gradient step v = W - mu * grad L(W):
      "gd"        W = v (plain gradient descent)
      "prune"     W = v with all but its 2 largest entries (by |.|) set to zero
      "l1"        W = v - mu * lam * sign(W) (subgradient of L + lam * ||W||_1; needs lam)
      "prox"      W = soft_threshold(v, t)
      "trimmed"   W = trimmed_soft_threshold(v, t, 3): the 3 smallest |v| are thresholded
      "trimmed_w" as "trimmed", but the 3 entries are those with the smallest |W| before the step
    prox and trimmed use t = threshold, or t = mu * lam when only lam is given.
    X: (n, d); y: (n,) or (n, 1).
    Returns (W_hist, L_hist): W_hist of shape (steps + 1, d) with W_hist[0] = 0, and L_hist of
    shape (steps + 1,), the data loss L (without any penalty) of each row of W_hist.
    """
    X, y = _as_regression_data(X, y)
    methods = ("gd", "prune", "l1", "prox", "trimmed", "trimmed_w")
    if method not in methods:
        raise ValueError(f"unknown method {method!r}: expected one of {methods}")
    if not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if method in ("gd", "prune") and (lam is not None or threshold is not None):
        raise ValueError(f"method {method!r} takes neither lam nor threshold")
    if lam is not None and not lam >= 0:
        raise ValueError(f"lam must be a number >= 0, got {lam}")
    if method == "l1" and (lam is None or threshold is not None):
        raise ValueError("method 'l1' needs lam (the L1 strength) and takes no threshold")
    t = threshold
    if method in ("prox", "trimmed", "trimmed_w"):
        if lam is None and threshold is None:
            raise ValueError(f"method {method!r} needs threshold (or lam, giving t = mu * lam)")
        if threshold is None:
            t = mu * lam
        elif lam is not None and not np.isclose(threshold, mu * lam, rtol=1e-9, atol=0.0):
            raise ValueError(
                f"threshold={threshold} conflicts with lam={lam}: t should equal mu * lam = "
                f"{mu * lam}; pass only one of them"
            )
    W_hist = np.zeros((steps + 1, X.shape[1]))
    W = W_hist[0].copy()
    for k in range(steps):
        grad = 2.0 * X.T @ (X @ W - y)
        v = W - mu * grad
        if method == "gd":
            W = v
        elif method == "prune":
            W = project_top_k(v, 2)
        elif method == "l1":
            W = v - mu * lam * np.sign(W)
        elif method == "prox":
            W = soft_threshold(v, t)
        elif method == "trimmed":
            W = trimmed_soft_threshold(v, t, 3)
        else:
            smallest = np.abs(W).argsort(kind="stable")[:3]
            W = v.copy()
            W[smallest] = soft_threshold(v[smallest], t)
        W_hist[k + 1] = W
    L_hist = np.sum((W_hist @ X.T - y) ** 2, axis=1)
    return W_hist, L_hist
