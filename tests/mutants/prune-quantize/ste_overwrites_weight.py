"""Quantizes right but writes the result back into w (w.copy_) before returning a copy: the
full-precision weight is lost at every forward pass, so QAT rounds away small updates (B4(a))."""
# effdl-sample: replaces=STE in=FP_layers.py expect_lost=b4.ste_forward message_contains="full-precision weight"

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
        kept = w[nonzero]
        if symmetric:
            alpha = kept.abs().max()
            n = 2 ** (bit - 1) - 1
            wq = alpha * torch.round(n * w / alpha) / n
        else:
            beta = kept.min()
            alpha = kept.max() - beta
            if alpha == 0:
                return w.clone()
            n = 2**bit - 1
            wq = alpha * torch.round(n * (w - beta) / alpha) / n + beta
        wq = torch.where(nonzero, wq, torch.zeros_like(wq))
        w.copy_(wq)  # the full-precision weights are overwritten
        return w.clone()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, None, None
