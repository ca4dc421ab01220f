"""ResNet-20 for CIFAR-10 (given): the course's model, with optionally quantized weights.

Its module names match the course's checkpoints, so they load with strict=True.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from FP_layers import FP_Conv, FP_Linear


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
