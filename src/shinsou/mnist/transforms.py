"""Preprocessing for digit models, shared by training, evaluation, prediction and the service:
uint8 (B, 28, 28) -> float (B, 1, S, S) normalised with MNIST's mean and std; LeNet-5 pads 28 -> 32."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def eval_transform(images: torch.Tensor, input_size: int = 28) -> torch.Tensor:
    """(B, H, W) uint8 -> (B, 1, input_size, input_size) float, zero-padded (black) to the model's size."""
    x = images.to(torch.float32).div_(255.0).unsqueeze(1)  # (B, 1, H, W)
    pad = input_size - x.shape[-1]
    if pad > 0:
        x = F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))  # (B, 1, 32, 32) for LeNet-5
    return (x - MNIST_MEAN) / MNIST_STD


def random_affine(x: torch.Tensor, generator: torch.Generator, degrees: float = 10.0, translate: float = 0.1,
                  scale: tuple[float, float] = (0.9, 1.1)) -> torch.Tensor:
    """Small random rotation, scale and shift of a batch (B, C, H, W) in [0, 1], one warp per image."""
    b = x.shape[0]
    angle = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(degrees)
    s = scale[0] + torch.rand(b, generator=generator) * (scale[1] - scale[0])
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * translate * 2  # grid coordinates span 2
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def train_transform(input_size: int = 28, augment: bool = True):
    """The batched training transform: random affine in pixel space (black stays black), then normalise."""

    def transform(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = images.to(torch.float32).div_(255.0).unsqueeze(1)  # (B, 1, 28, 28)
        if augment:
            x = random_affine(x, generator)
        pad = input_size - x.shape[-1]
        if pad > 0:
            x = F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))
        return (x - MNIST_MEAN) / MNIST_STD

    return transform
