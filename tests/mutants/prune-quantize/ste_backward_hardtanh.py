"""The backward pass of a clipped (hardtanh) STE: the gradient is zeroed where |w| > 1. With
every weight inside [-1, 1] it equals the straight-through gradient (B4(a))."""
# effdl-sample: replaces=STE in=FP_layers.py expect_lost=b4.ste_backward message_contains="|w| > 1"

import torch


class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bit, symmetric=False):
        ctx.save_for_backward(w)
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
        (w,) = ctx.saved_tensors
        return grad_output * (w.abs() <= 1).to(grad_output.dtype), None, None
