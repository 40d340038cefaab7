"""The two LeNets of the lecture: LeNet-5 (LeCun et al. 1998, 32x32 input) and Caffe's MNIST LeNet
(caffe/examples/mnist/lenet.prototxt, 28x28 input: conv20-pool-conv50-pool-ip500-relu-ip10)."""

from __future__ import annotations

import torch
from torch import nn

from shinsou.models.layers import make_classifier, make_layers

# Architecture as data: (conv/pool list, kernel, activation after conv, classifier sizes)
LENET5 = dict(cfg=[6, "A", 16, "A"], kernel_size=5, activation="tanh", fc=[16 * 5 * 5, 120, 84], input_size=32)
LENET_CAFFE = dict(cfg=[20, "M", 50, "M"], kernel_size=5, activation=None, fc=[50 * 4 * 4, 500], input_size=28)
# Caffe's layout with batch norm + ReLU after each conv and dropout before the last layer (Ioffe & Szegedy 2015)
LENET_BN = dict(LENET_CAFFE, activation="relu", batch_norm=True, dropout=0.5)


class LeNet(nn.Module):
    """features (convs and pools) -> flatten -> classifier; `input_size` says what images it takes."""

    def __init__(self, cfg: list, kernel_size: int, activation: str | None, fc: list[int], input_size: int,
                 num_classes: int = 10, in_channels: int = 1, fc_activation: str = "relu", batch_norm: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        self.input_size = (in_channels, input_size, input_size)
        self.conv = make_layers(cfg, in_channels, kernel_size=kernel_size, padding=0, activation=activation,
                                batch_norm=batch_norm)
        self.hidden = make_classifier(fc, activation=fc_activation)
        self.act = nn.Tanh() if fc_activation == "tanh" else nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.head = nn.Linear(fc[-1], num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, fc[-1]): everything up to the last hidden layer (the embedding)."""
        x = self.conv(x)  # lenet-caffe: (B, 50, 4, 4); lenet5: (B, 16, 5, 5)
        x = torch.flatten(x, 1)  # (B, 800) or (B, 400)
        return self.act(self.hidden(x))  # (B, 500) or (B, 84)

    def reset_classifier(self, num_classes: int) -> None:
        self.head = nn.Linear(self.head.in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))  # (B, num_classes) logits


def lenet5(num_classes: int = 10, in_channels: int = 1) -> LeNet:
    """LeNet-5: 32x32 -> conv5 28x28x6 -> subsample 14x14 -> conv5 10x10x16 -> subsample 5x5 -> 120 -> 84 -> classes."""
    return LeNet(**LENET5, num_classes=num_classes, in_channels=in_channels, fc_activation="tanh")


def lenet_caffe(num_classes: int = 10, in_channels: int = 1) -> LeNet:
    """Caffe LeNet: 28x28 -> 24x24x20 -> pool 12x12x20 -> 8x8x50 -> pool 4x4x50 = 800 -> 500 + ReLU -> classes."""
    return LeNet(**LENET_CAFFE, num_classes=num_classes, in_channels=in_channels, fc_activation="relu")


def lenet_bn(num_classes: int = 10, in_channels: int = 1) -> LeNet:
    """Caffe LeNet's shapes (28 -> 24 -> 12 -> 8 -> 4, 800 -> 500) with BN + ReLU after each conv and dropout 0.5."""
    return LeNet(**LENET_BN, num_classes=num_classes, in_channels=in_channels, fc_activation="relu")
