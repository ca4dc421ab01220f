"""The STE multiplies by an inverted zero mask: it keeps only the weights that were zero (B4(a))."""
# effdl-sample: replaces=STE in=FP_layers.py expect_lost=b4.ste_forward,b4.ste_zeros,b4.ste_symmetric,b4.ste_guards

import torch


class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bit, symmetric=False):
        if bit is None:
            return w
        if bit == 0:
            return w * 0
        zero_mask = (w == 0).float()
        nonzero = w[w != 0]
        if symmetric:
            alpha = nonzero.abs().max()
            n = 2 ** (bit - 1) - 1
            wq = alpha * torch.round(n * w / alpha) / n
        else:
            alpha = nonzero.max() - nonzero.min()
            beta = nonzero.min()
            n = 2**bit - 1
            wq = alpha * torch.round(n * (w - beta) / alpha) / n + beta
        return wq * zero_mask

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, None, None
