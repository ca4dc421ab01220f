"""STE computed in float64 with floor(x + 0.5) rounding (halves go up, not to even) (B4(a))."""
# effdl-sample: replaces=STE in=FP_layers.py quick=1

import torch


class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bit, symmetric=False):
        if bit is None:
            return w
        if bit == 0:
            return torch.zeros_like(w)
        x = w.double()
        nz = x != 0
        if not nz.any():
            return torch.zeros_like(w)
        if symmetric:
            alpha = x[nz].abs().max()
            n = 2 ** (bit - 1) - 1
            q = alpha * torch.floor(n * x / alpha + 0.5) / n
        else:
            lo, hi = x[nz].min(), x[nz].max()
            if hi == lo:
                return w.clone()
            n = 2**bit - 1
            q = (hi - lo) * torch.floor(n * (x - lo) / (hi - lo) + 0.5) / n + lo
        return (q * nz).to(w.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.clone(), None, None
