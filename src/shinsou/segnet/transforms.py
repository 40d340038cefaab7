"""Preprocessing for segmentation, shared by training, evaluation and prediction: uint8 (B, H, W, 3) images ->
normalised float (B, 3, H, W) (ImageNet statistics, as VGG16-BN expects); paired crop / flip / scale with masks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalise(images: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float, (x / 255 - mean) / std."""
    x = images.permute(0, 3, 1, 2).to(torch.float32) / 255.0  # (B, 3, H, W)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def eval_transform(images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator | None = None):
    """(B, H, W, 3) uint8, (B, H, W) uint8 -> (B, 3, H, W) float, (B, H, W) int64; no randomness."""
    return normalise(images), masks.long()


def paired_geometry(x: torch.Tensor, masks: torch.Tensor, generator: torch.Generator, void_index: int,
                    scale: tuple[float, float] = (0.8, 1.25), flip: bool = True,
                    crop: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random scale, crop (shift) and horizontal flip for each image and its mask, as one affine warp.

    x: (B, C, H, W) float, sampled bilinearly; masks: (B, H, W) int64, sampled with nearest neighbour only,
    so every output label is one of the input labels; area warped in from outside the image is Void.
    `crop` (h, w): the output size, a random window of the (scaled) image; default the input size.
    """
    b, _, height, width = x.shape
    out_h, out_w = crop or (height, width)
    s = scale[0] + torch.rand(b, generator=generator) * (scale[1] - scale[0])  # > 1 zooms in
    mirror = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(b)
    span_x, span_y = out_w / width / s, out_h / height / s  # the window's size as a fraction of the image, per axis
    reach = torch.stack([(1 - span_x).abs(), (1 - span_y).abs()], 1)  # how far the window may move and stay inside
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * reach  # (B, 2) in grid units
    zero = torch.zeros(b)
    theta = torch.stack([torch.stack([mirror * span_x, zero, shift[:, 0]], 1),
                         torch.stack([zero, span_y, shift[:, 1]], 1)], 1)  # (B, 2, 3): output -> input coordinates
    grid = F.affine_grid(theta.to(x.dtype), [b, 1, out_h, out_w], align_corners=False)  # (B, h, w, 2)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)  # (B, C, h, w)
    shifted = (masks + 1).unsqueeze(1).to(x.dtype)  # (B, 1, H, W); 0 marks "outside"
    shifted = F.grid_sample(shifted, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    masks = shifted.squeeze(1).round().long() - 1  # (B, h, w)
    return x, torch.where(masks < 0, torch.full_like(masks, void_index), masks)


def paired_crop_flip(x: torch.Tensor, masks: torch.Tensor, generator: torch.Generator, flip: bool = True,
                     crop: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random whole-pixel windows and horizontal flips, the same for each image and its mask: no resampling, so
    training pixels look exactly like evaluation pixels. x: (B, C, H, W), masks: (B, H, W) -> (B, C, h, w), (B, h, w)."""
    b, _, height, width = x.shape
    out_h, out_w = crop or (height, width)
    top = torch.randint(0, height - out_h + 1, (b,), generator=generator)
    left = torch.randint(0, width - out_w + 1, (b,), generator=generator)
    mirror = torch.rand(b, generator=generator) < 0.5 if flip else torch.zeros(b, dtype=torch.bool)
    rows = top[:, None] + torch.arange(out_h)  # (B, h)
    cols = left[:, None] + torch.arange(out_w)  # (B, w)
    cols = torch.where(mirror[:, None], cols.flip(1), cols)
    batch = torch.arange(b)[:, None, None]
    x = x.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (B, C, h, w)
    return x.contiguous(), masks[batch, rows[:, :, None], cols[:, None, :]]


def photometric(x: torch.Tensor, generator: torch.Generator, strength: float = 0.2) -> torch.Tensor:
    """Random brightness and contrast per image on (B, 3, H, W) in [0, 1]; masks are untouched."""
    b = x.shape[0]
    brightness = 1 + (torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * strength
    contrast = 1 + (torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * strength
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean * brightness).clamp(0, 1)


def train_transform(void_index: int, augment: bool = True, crop: tuple[int, int] | None = None,
                    scale: tuple[float, float] = (0.8, 1.25)):
    """The batched training transform: paired geometry (random scale in `scale`, flip and, with `crop`, a smaller
    random window) and photometric jitter in pixel space, then normalise. scale (1, 1) cuts whole-pixel windows
    without resampling. Without `augment`, images pass unchanged."""

    def transform(images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator):
        masks = masks.long()  # (B, H, W)
        if not augment:
            return normalise(images), masks
        x = images.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)  # (B, 3, H, W) in [0, 1]
        if tuple(scale) == (1.0, 1.0):
            x, masks = paired_crop_flip(x, masks, generator, crop=crop)
        else:
            x, masks = paired_geometry(x, masks, generator, void_index, scale=tuple(scale), crop=crop)
        x = photometric(x, generator)
        x = (x * 255).permute(0, 2, 3, 1)  # back to (B, H, W, 3) for the one normalise
        return normalise(x), masks

    return transform
