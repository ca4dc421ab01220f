"""Fixed-point weight quantization with a straight-through estimator (assignment B, Lab 3).

`STE` is the autograd function the quantized layers of `effdl.models` call on their weight in
every forward pass: the forward pass rounds the weight to a few bits, the backward pass hands
the gradient to the full-precision weight as if the rounding were the identity. `quantize`
is the same rounding as a plain function, for tables and plots.

This course's quantizer always treats exact zeros as pruned weights: the scale is computed
from the nonzero weights only and zeros stay exactly zero, so a pruned layer stays pruned
after quantization. On a tensor without zeros it is the ordinary linear quantizer.
"""

from __future__ import annotations

import numpy as np
import torch

# Copied into assignment bundles by source: uses torch and numpy only.
STANDALONE = ("STE",)


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


def quantize(w: torch.Tensor, bits: int | None, symmetric: bool = False) -> torch.Tensor:
    """Quantize ``w`` exactly as ``STE``'s forward pass does, outside of autograd.

    For analysis and plots: the result is detached from any graph, has the shape and dtype of
    ``w``, and zeros stay zero. See `STE` for the meaning of ``bits`` and ``symmetric``.
    """
    with torch.no_grad():
        return STE.forward(None, w.detach(), bits, symmetric)
