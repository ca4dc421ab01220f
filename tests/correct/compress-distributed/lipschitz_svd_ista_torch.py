"""L from the singular values, ISTA written in torch (C3.2)."""
# effdl-sample: replaces=lipschitz_constant,ista

import numpy as np
import torch


def lipschitz_constant(Phi):
    return float(np.linalg.svd(np.asarray(Phi, dtype=np.float64), compute_uv=False)[0] ** 2)


def ista(y, Phi, lam, steps=500, x0=None, step=None, L=None):
    P = torch.as_tensor(np.asarray(Phi), dtype=torch.float64)
    yy = torch.as_tensor(np.asarray(y), dtype=torch.float64).reshape(-1)
    L = lipschitz_constant(Phi) if L is None else L
    t = 1 / L if step is None else step
    if t > 1 / L * (1 + 1e-9):
        raise ValueError(f"step {t} is above 1/L = {1 / L}")
    x = (
        torch.zeros(P.shape[1], dtype=torch.float64)
        if x0 is None
        else torch.as_tensor(np.asarray(x0), dtype=torch.float64).reshape(-1).clone()
    )
    for _ in range(steps):
        z = x + t * (P.T @ (yy - P @ x))
        x = torch.sign(z) * torch.clamp(z.abs() - lam * t, min=0)
    return x
