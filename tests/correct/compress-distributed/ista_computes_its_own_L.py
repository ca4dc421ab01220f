"""ISTA that always computes L = ||Phi||_2^2 itself and ignores the L it is passed: the
statement has L be lipschitz_constant(Phi) when the caller has it, so recomputing it is
right (a held-out student's submission lost a point for it in round 13)."""
# effdl-sample: replaces=ista

import numpy as np


def ista(y, Phi, lam, steps=500, x0=None, step=None, L=None):
    Phi = np.asarray(Phi, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    L_true = float(np.linalg.norm(Phi, 2) ** 2)
    t = 1.0 / L_true if step is None else float(step)
    if t > 1.0 / L_true * (1 + 1e-12):
        raise ValueError(f"step {t} is above 1/L = {1.0 / L_true}")
    x = np.zeros(Phi.shape[1]) if x0 is None else np.asarray(x0, dtype=np.float64).copy()
    for _ in range(steps):
        z = x + t * Phi.T @ (y - Phi @ x)
        x = np.sign(z) * np.maximum(np.abs(z) - lam * t, 0.0)
    return x
