"""Fixed-point layers for assignment B: the straight-through estimator (STE) you write in
B4(a), and the convolution and linear layers that quantize their weights through it.

Fill in STE.forward and STE.backward; FP_Conv and FP_Linear are given.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class STE(torch.autograd.Function):
    """Linear fixed-point quantizer with a straight-through gradient.

    Call it as ``STE.apply(w, bit, symmetric)``; ``w`` is a weight tensor of any shape and the
    result has the same shape and dtype.

    - ``bit=None``: no quantization, ``w`` comes back as it is.
    - ``bit=0``: every weight becomes 0.
    - asymmetric (default), ``bit >= 1``: with alpha = max - min and beta = min of the nonzero
      weights, ws = (w - beta) / alpha lies in [0, 1]; it is rounded to one of n + 1 evenly
      spaced levels, n = 2**bit - 1, and scaled back: wq = alpha * round(n * ws) / n + beta.
    - symmetric, ``bit >= 2``: with alpha = max |w|, n = 2**(bit - 1) - 1 levels on each side
      of zero: wq = alpha * round(n * w / alpha) / n.

    In both modes the weights that are exactly zero stay exactly zero, so pruning survives.
    If all nonzero weights are equal (alpha = 0) the tensor is returned unchanged, and an
    all-zero tensor is returned as zeros. ``torch.round`` rounds halves to the even level.

    The backward pass is the straight-through estimator: the upstream gradient goes to ``w``
    unchanged (the loss is computed with the quantized weight, the update is applied to the
    full-precision one), and ``bit`` and ``symmetric`` get no gradient (None).
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, bit: int | None, symmetric: bool = False) -> torch.Tensor:
        if bit is None:
            return w
        if isinstance(bit, bool) or not isinstance(bit, (int, np.integer)):
            raise ValueError(f"bit must be None or a non-negative integer, got {bit!r}")
        bit = int(bit)
        if bit < 0:
            raise ValueError(f"bit must be None or a non-negative integer, got {bit}")
        if symmetric and bit == 1:
            raise ValueError(
                "symmetric quantization needs bit >= 2: with 1 bit there are no levels "
                "besides zero (n = 2**(bit - 1) - 1 = 0)"
            )
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
            ws = (w - beta) / alpha
            n = 2**bit - 1
            R = torch.round(n * ws) / n
            wq = alpha * R + beta
        # Put the pruned (exactly zero) weights back to +0.0.
        return torch.where(nonzero, wq, torch.zeros_like(wq))

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        # One return value per forward input: w, bit, symmetric.
        return grad_output, None, None


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
