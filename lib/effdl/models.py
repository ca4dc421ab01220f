"""ResNet-20 for CIFAR-10 with optionally quantized weights (assignment B).

The module names and the state-dict layout are those of the course's existing model, so a
checkpoint saved by it loads here with ``strict=True``:

- ``head_conv``: 3x3 conv (3 -> 16) + BatchNorm, always full precision;
- ``body_op``: 9 residual blocks in 3 stages of 16, 32 and 64 channels; each block has
  ``conv1`` and ``conv2`` (3x3 conv + BatchNorm each) and, where the channel count changes,
  an ``id_mapping`` shortcut (1x1 conv with stride 2 + BatchNorm);
- ``final_fc``: the 64 -> 10 classifier, always full precision.

Every conv and linear layer is wrapped in `FP_Conv` / `FP_Linear`, which quantize the weight
through `STE` when ``Nbits`` is set. ResNet-20 has 272,474 parameters and 128 state-dict
entries.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from effdl.quant import STE

# Copied into assignment bundles by source (with quant.STE): torch, nn, F and each other only.
STANDALONE = ("FP_Conv", "FP_Linear", "ResNetBlock", "ResNetCIFAR")


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


class ResNetBlock(nn.Module):
    """One residual block: two 3x3 conv + BatchNorm layers and a shortcut.

    out = relu(conv2(relu(conv1(x))) + shortcut(x)), where the shortcut is the identity when
    the shape is unchanged and ``id_mapping`` (1x1 conv with the block's stride + BatchNorm)
    when the block changes the channel count or downsamples. Input (N, in_chs, H, W), output
    (N, out_chs, H / stride, W / stride) (rounded up).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        Nbits: int | None = None,
        symmetric: bool = False,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            FP_Conv(in_chs, out_chs, 3, stride=stride, padding=1, Nbits=Nbits, symmetric=symmetric),
            nn.BatchNorm2d(out_chs),
        )
        self.conv2 = nn.Sequential(
            FP_Conv(out_chs, out_chs, 3, stride=1, padding=1, Nbits=Nbits, symmetric=symmetric),
            nn.BatchNorm2d(out_chs),
        )
        if stride != 1 or in_chs != out_chs:
            self.id_mapping = nn.Sequential(
                FP_Conv(in_chs, out_chs, 1, stride=stride, Nbits=Nbits, symmetric=symmetric),
                nn.BatchNorm2d(out_chs),
            )
        else:
            self.id_mapping = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv1(x))
        out = self.conv2(out)
        shortcut = x if self.id_mapping is None else self.id_mapping(x)
        return F.relu(out + shortcut)


class ResNetCIFAR(nn.Module):
    """ResNet for 10-class images with 3 channels (He et al., 2016, the CIFAR variant).

    ``num_layers`` = 6 * n + 2 (20 gives 3 blocks per stage). ``Nbits`` (None for full
    precision) and ``symmetric`` set the weight quantization of every layer in ``body_op``;
    ``head_conv`` and ``final_fc`` always stay full precision. Global average pooling makes
    the network work for any input size: (N, 3, 32, 32) CIFAR images and (N, 3, 8, 8) digits
    both give logits of shape (N, 10).
    """

    def __init__(
        self, num_layers: int = 20, Nbits: int | None = None, symmetric: bool = False
    ) -> None:
        super().__init__()
        if num_layers < 8 or (num_layers - 2) % 6 != 0:
            raise ValueError(
                f"num_layers must be 6 * n + 2 with n >= 1 (20, 32, ...), got {num_layers}"
            )
        blocks_per_stage = (num_layers - 2) // 6
        self.head_conv = nn.Sequential(
            FP_Conv(3, 16, 3, stride=1, padding=1, Nbits=None),
            nn.BatchNorm2d(16),
        )
        blocks = []
        in_chs = 16
        for stage, out_chs in enumerate((16, 32, 64)):
            for i in range(blocks_per_stage):
                stride = 2 if (stage > 0 and i == 0) else 1
                blocks.append(
                    ResNetBlock(in_chs, out_chs, stride, Nbits=Nbits, symmetric=symmetric)
                )
                in_chs = out_chs
        self.body_op = nn.Sequential(*blocks)
        self.final_fc = FP_Linear(64, 10, Nbits=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.head_conv(x))
        out = self.body_op(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.final_fc(out)
