"""Takes alpha and beta over all weights, zeros included, then puts the zeros back (B4(a)):
right whenever 0 lies between the smallest and the largest nonzero weight, wrong when the
nonzero weights share a sign."""
# effdl-sample: replaces=STE in=FP_layers.py expect_lost=b4.ste_zeros message_contains="the range included the zeros"

import torch


class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bit, symmetric=False):
        if bit is None:
            return w
        if bit == 0:
            return torch.zeros_like(w)
        nonzero = w != 0
        if not bool(nonzero.any()):
            return torch.zeros_like(w)
        if symmetric:
            alpha = w.abs().max()
            n = 2 ** (bit - 1) - 1
            wq = alpha * torch.round(n * w / alpha) / n
        else:
            beta = w.min()
            alpha = w.max() - beta
            if alpha == 0:
                return w.clone()
            n = 2**bit - 1
            wq = alpha * torch.round(n * (w - beta) / alpha) / n + beta
        return wq * nonzero

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, None, None
