"""ISTA that accepts any step, also above 1/L (C3.2)."""
# effdl-sample: replaces=ista expect_lost=c3.ista message_contains="should refuse it"

import numpy as np


def ista(y, Phi, lam, steps=500, x0=None, step=None, L=None):
    Phi = np.asarray(Phi, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    L = lipschitz_constant(Phi) if L is None else float(L)
    t = 1.0 / L if step is None else float(step)
    x = np.zeros(Phi.shape[1]) if x0 is None else np.asarray(x0, dtype=np.float64).reshape(-1)
    for _ in range(int(steps)):
        x = soft_threshold(x + t * (Phi.T @ (y - Phi @ x)), lam * t)
    return x
