"""SegNet, Badrinarayanan, Kendall & Cipolla 2017 (TPAMI): VGG16's 13 convs with BN + ReLU as the encoder, whose
2x2 max pools keep the argmax indices; a mirrored decoder upsamples with those indices (max-unpooling), then convolves."""

from __future__ import annotations

import torch
from torch import nn

from shinsou.models.layers import make_layers

# Architectures as data. Each encoder stage is its convs followed by a 2x2 max pool that returns indices;
# decoder stages are listed deepest first and each starts with max-unpooling of the matching encoder stage.
SEGNET = dict(
    encoder=[[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],  # = VGG16 config "D"
    decoder=[[512, 512, 512], [512, 512, 256], [256, 256, 128], [128, 64], [64]],
    kernel_size=3, decoder_activation="relu", head_kernel=3,  # segnet_train.prototxt: conv1_1_D is 3x3 -> classes
)
SEGNET_BASIC = dict(  # the paper's small variant: 4 + 4 stages, 64 channels, 7x7 kernels, no ReLU in the decoder
    encoder=[[64], [64], [64], [64]],
    decoder=[[64], [64], [64], [64]],
    kernel_size=7, decoder_activation=None, head_kernel=1,
)
CAMVID_SIZE = (360, 480)  # the size SegNet trains on (CamVid, downsampled from 720x960)


class SegNet(nn.Module):
    """encoder (convs + index-keeping pools) -> decoder (unpool with those indices + convs) -> per-pixel class scores.

    Shapes: (B, C, H, W) -> (B, num_classes, H, W) for any H, W of at least 2**stages; odd sizes work because
    each unpooling is told the size its encoder stage had before pooling (90x120 -> 45x60 -> 22x30 -> ... and back).
    """

    def __init__(self, encoder: list[list[int]], decoder: list[list[int]], kernel_size: int,
                 decoder_activation: str | None, head_kernel: int, num_classes: int = 11, in_channels: int = 3,
                 input_size: tuple[int, int] | list[int] = CAMVID_SIZE):
        super().__init__()
        if len(encoder) != len(decoder):
            raise ValueError(f"{len(encoder)} encoder stages but {len(decoder)} decoder stages")
        self.input_size = (in_channels, int(input_size[0]), int(input_size[1]))  # what `explain model` feeds it
        padding = kernel_size // 2
        self.encoder = nn.ModuleList()
        channels = in_channels
        for stage in encoder:
            self.encoder.append(make_layers(stage + ["M"], channels, kernel_size, padding, batch_norm=True,
                                            return_indices=True))
            channels = stage[-1]
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.decoder = nn.ModuleList()
        for stage in decoder:
            self.decoder.append(make_layers(stage, channels, kernel_size, padding, batch_norm=True,
                                            activation=decoder_activation))
            channels = stage[-1]
        self.head = nn.Conv2d(channels, num_classes, head_kernel, padding=head_kernel // 2)
        self.num_classes = num_classes

    def encode(self, x: torch.Tensor):
        """-> deepest features, pooling indices and pre-pool sizes per stage (shallowest first)."""
        indices, sizes = [], []
        for stage in self.encoder:
            *convs, pool = stage
            for layer in convs:
                x = layer(x)  # segnet stage 1 at 360x480: (B, 64, 360, 480)
            sizes.append(x.shape[-2:])
            x, where = pool(x)  # (B, 64, 180, 240); `where` holds each maximum's flat position in 360x480
            indices.append(where)
        return x, indices, sizes  # segnet: (B, 512, 11, 15) after 5 pools of 360x480

    def decode(self, x: torch.Tensor, indices: list[torch.Tensor], sizes: list[torch.Size]) -> torch.Tensor:
        for stage, where, size in zip(self.decoder, reversed(indices), reversed(sizes)):
            x = self.unpool(x, where, output_size=size)  # (B, C, h, w) -> (B, C, size): sparse, maxima put back
            x = stage(x)  # dense again: (B, C', size)
        return x  # (B, 64, H, W)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 64, H, W): per-pixel features before the classifier."""
        return self.decode(*self.encode(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.head = nn.Conv2d(self.head.in_channels, num_classes, self.head.kernel_size, padding=self.head.padding)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, num_classes, H, W) logits; softmax over dim 1 per pixel


def segnet(num_classes: int = 11, in_channels: int = 3, input_size=CAMVID_SIZE) -> SegNet:
    """SegNet: VGG16-BN encoder (13 convs, 5 pools) and its mirror; 29.4M parameters for 11 classes."""
    return SegNet(**SEGNET, num_classes=num_classes, in_channels=in_channels, input_size=input_size)


def segnet_basic(num_classes: int = 11, in_channels: int = 3, input_size=CAMVID_SIZE) -> SegNet:
    """SegNet-Basic: 4 encoder and 4 decoder stages of one 7x7 conv with 64 channels; 1.4M parameters."""
    return SegNet(**SEGNET_BASIC, num_classes=num_classes, in_channels=in_channels, input_size=input_size)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
