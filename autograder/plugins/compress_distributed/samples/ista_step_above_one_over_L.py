"""ISTA with the step 1 / ||Phi||_2 (the largest singular value, not its square): a step above 1/L (C3.2)."""
# effdl-sample: replaces=ista expect_lost=c3.ista message_contains="above 1 / L"

import numpy as np


def ista(y, Phi, lam, steps=500, x0=None, step=None, L=None):
    Phi = np.asarray(Phi, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    L_true = lipschitz_constant(Phi) if L is None else float(L)
    t = 1.0 / float(np.linalg.norm(Phi, 2)) if step is None else float(step)
    if step is not None and t > 1.0 / L_true * (1 + 1e-12):
        raise ValueError(f"the step must be at most 1/L = {1 / L_true:.6g}, got {t}")
    x = np.zeros(Phi.shape[1]) if x0 is None else np.asarray(x0, dtype=np.float64).reshape(-1)
    for _ in range(int(steps)):
        x = soft_threshold(x + t * (Phi.T @ (y - Phi @ x)), lam * t)
    return x
