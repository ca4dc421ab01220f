"""The backward pass clips the upstream gradient into [-1, 1] instead of passing it through
unchanged; a backward case with every gradient inside [-1, 1] cannot tell (B4(a))."""
# effdl-sample: replaces=STE in=FP_layers.py expect_lost=b4.ste_backward message_contains="clipped into [-1, 1]"

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
        return torch.where(nonzero, wq, torch.zeros_like(wq))

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.clamp(-1.0, 1.0), None, None
