"""Architectures as data plus one builder, after torchvision's `vgg.make_layers` (Simonyan & Zisserman 2015).
LeNet (LeCun et al. 1998), VGG16 and the SegNet encoder are all lists of convs and pools built here."""

from __future__ import annotations

from torch import nn

# A layer list is a sequence of:
#   int n  -> convolution with n output channels (kernel/padding from make_layers' arguments)
#   "M"    -> 2x2 max pooling, stride 2
#   "A"    -> 2x2 average pooling ("subsampling" in LeNet-5), stride 2
ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "tanh": nn.Tanh, None: None}


def make_layers(
    cfg: list,
    in_channels: int,
    kernel_size: int = 3,
    padding: int = 1,
    batch_norm: bool = False,
    activation: str | None = "relu",
    return_indices: bool = False,
) -> nn.Sequential:
    """Build the convolutional part described by `cfg` (see the table above)."""
    layers: list[nn.Module] = []
    channels = in_channels
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2, return_indices=return_indices))
        elif item == "A":
            layers.append(nn.AvgPool2d(2, 2))
        else:
            layers.append(nn.Conv2d(channels, item, kernel_size, padding=padding, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(item))
            if ACTIVATIONS[activation] is not None:
                layers.append(ACTIVATIONS[activation]())
            channels = item
    return nn.Sequential(*layers)


def make_classifier(sizes: list[int], activation: str = "relu", dropout: float = 0.0) -> nn.Sequential:
    """Fully connected layers sizes[0] -> sizes[1] -> ... with an activation between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)
