"""STE that saves its mask on ctx, multiplies by it, and checks the bit guard first (B4(a))."""
# effdl-sample: replaces=STE in=FP_layers.py

import torch


class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bit, symmetric=False):
        ctx.bit = bit
        if bit is None:
            return w.clone()
        if bit == 0:
            return w * 0
        mask = (w != 0).to(w.dtype)
        ctx.save_for_backward(mask)
        values = w[w != 0]
        if values.numel() == 0:
            return w * 0
        if symmetric:
            scale = values.abs().max()
            levels = 2 ** (bit - 1) - 1
            return scale * torch.round(w * levels / scale) / levels * mask
        low = values.min()
        span = values.max() - low
        if span == 0:
            return w.clone()
        levels = 2**bit - 1
        ws = (w - low) / span
        return (span * torch.round(ws * levels) / levels + low) * mask

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, None, None
