"""Preprocessing for the transfer backbones, shared by training, evaluation, prediction and the service:
uint8 (B, 1|3, h, w) -> float (B, 3, S, S) resized and normalised as the backbone's weights define (weights.transforms())."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from shinsou.mnist.transforms import random_affine


def to_model_input(x: torch.Tensor, size: int, mean, std, interpolation: str = "bilinear") -> torch.Tensor:
    """float (B, C, h, w) in 0..1 -> (B, 3, size, size) normalised; grey is replicated to three channels."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)  # (B, 1, h, w) -> (B, 3, h, w)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode=interpolation, antialias=True, align_corners=False)
        x = x.clamp_(0.0, 1.0)  # bicubic overshoots
    mean = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std  # (B, 3, size, size)


def eval_transform(preprocess, size: int):
    """The batched evaluation transform for a model's `preprocess` (mean, std, interpolation)."""

    def transform(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = images.to(torch.float32).div_(255.0)  # (B, C, h, w)
        return to_model_input(x, size, preprocess.mean, preprocess.std, preprocess.interpolation)

    return transform


def train_transform(preprocess, size: int, augment: bool = True):
    """The batched training transform: random horizontal flip and a small random affine warp
    (rotation 10 degrees, shift 10%, scale 0.9-1.1) at the stored size, then as eval_transform."""

    def transform(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = images.to(torch.float32).div_(255.0)  # (B, C, h, w)
        if augment:
            flip = torch.rand(len(x), generator=generator) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
            x = random_affine(x, generator)
        return to_model_input(x, size, preprocess.mean, preprocess.std, preprocess.interpolation)

    return transform
