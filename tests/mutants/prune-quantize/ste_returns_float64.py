"""Computes in float64 and returns the float64 result for a float32 weight: FP_Conv's
F.conv2d then mixes float32 inputs with a float64 weight and fails (B4(a))."""
# effdl-sample: replaces=STE in=FP_layers.py expect_lost=b4.ste_forward message_contains="w's dtype"

import torch


class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bit, symmetric=False):
        if bit is None:
            return w
        w64 = w.double()
        if bit == 0:
            return torch.zeros_like(w64)
        nonzero = w64 != 0
        if not bool(nonzero.any()):
            return torch.zeros_like(w64)
        kept = w64[nonzero]
        if symmetric:
            alpha = kept.abs().max()
            n = 2 ** (bit - 1) - 1
            wq = alpha * torch.round(n * w64 / alpha) / n
        else:
            beta = kept.min()
            alpha = kept.max() - beta
            if alpha == 0:
                return w64.clone()
            n = 2**bit - 1
            wq = alpha * torch.round(n * (w64 - beta) / alpha) / n + beta
        return torch.where(nonzero, wq, torch.zeros_like(wq))

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.float(), None, None
