"""Fixed-point layers for assignment B: the straight-through estimator (STE) you write in
B4(a), and the convolution and linear layers that quantize their weights through it.

Fill in STE.forward and STE.backward; FP_Conv and FP_Linear are given.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, bit, symmetric=False):
        if bit is None:
            wq = w
        elif bit == 0:
            wq = w * 0
        else:
            # Lab 3 (bonus): build a mask recording where the weights are zero (pruned)
            weight_mask = (w != 0).float()
            nonzero = w[w != 0]
            if nonzero.numel() == 0:
                return w * 0
            if symmetric:
                # Compute alpha (scale) for symmetric quantization
                alpha = torch.max(torch.abs(nonzero))
                step = 2 ** (bit - 1) - 1
                wq = alpha * torch.round(step * w / alpha) / step
            else:
                # Lab3 (a), Your code here:
                # Compute alpha (scale) for dynamic scaling
                alpha = torch.max(nonzero) - torch.min(nonzero)
                # Compute beta (bias) for dynamic scaling
                beta = torch.min(nonzero)
                if alpha == 0:
                    return w.clone()
                # Scale w with alpha and beta so that all elements in ws are between 0 and 1
                ws = (w - beta) / alpha
                step = 2 ** (bit) - 1
                # Quantize ws with a linear quantizer to "bit" bits
                R = (1 / step) * torch.round(step * ws)
                # Scale the quantized weight R back with alpha and beta
                wq = alpha * R + beta
            # Lab 3 (bonus): restore zero elements in wq
            wq = wq * weight_mask
        return wq

    @staticmethod
    def backward(ctx, g):
        return g, None, None


class FP_Conv(nn.Module):
    """A 2-d convolution whose weight is quantized to ``Nbits`` bits in the forward pass.

    The full-precision weight lives in ``self.conv`` (an ``nn.Conv2d``) and is what the
    optimizer updates; the forward pass convolves with ``STE.apply(weight, Nbits, symmetric)``.
    ``Nbits=None`` means full precision. Input (N, C_in, H, W), output (N, C_out, H', W').
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = False,
        Nbits: int | None = None,
        symmetric: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias
        )
        self.Nbits = Nbits
        self.symmetric = symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = STE.apply(self.conv.weight, self.Nbits, self.symmetric)
        return F.conv2d(
            x,
            weight,
            self.conv.bias,
            self.conv.stride,
            self.conv.padding,
            self.conv.dilation,
            self.conv.groups,
        )


class FP_Linear(nn.Module):
    """A fully connected layer whose weight is quantized to ``Nbits`` bits in the forward pass.

    The full-precision weight and bias live in ``self.linear`` (an ``nn.Linear``); only the
    weight is quantized, the bias stays full precision. ``Nbits=None`` means full precision.
    Input (N, in_features), output (N, out_features).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        Nbits: int | None = None,
        symmetric: bool = False,
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.Nbits = Nbits
        self.symmetric = symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = STE.apply(self.linear.weight, self.Nbits, self.symmetric)
        return F.linear(x, weight, self.linear.bias)
