"""Prediction with a trained SegNet: images of any size are resized to the run's input size, labelled, and the
class scores resized back, so every label map has its input's size; colour maps and overlays as in the SegNet demos."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from shinsou.errors import DataError
from shinsou.segnet.data import read_image, resize_image
from shinsou.segnet.palette import Palette
from shinsou.segnet.transforms import normalise


def class_log_probs(model: nn.Module, x: torch.Tensor, flip: bool = False) -> torch.Tensor:
    """(B, 3, H, W) -> (B, K, H, W) log class probabilities. With `flip` (test-time augmentation), the mean of the
    probabilities for the image and for its mirror image, mirrored back: a road scene is as likely either way."""
    logits = model(x).float()
    if not flip:
        return logits.log_softmax(1)
    probs = (logits.softmax(1) + model(x.flip(-1)).float().softmax(1).flip(-1)) / 2
    return probs.clamp_min(1e-12).log()


@torch.no_grad()
def predict_labels(model: nn.Module, images: np.ndarray, batch_size: int = 8, flip: bool = False) -> np.ndarray:
    """(N, H, W, 3) uint8 at the model's size -> (N, H, W) uint8 class indices."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(images), batch_size):
        x = normalise(torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))).to(device)
        out.append(class_log_probs(model, x, flip).argmax(1).to(torch.uint8).cpu())  # (B, H, W)
    return torch.cat(out).numpy() if out else np.zeros((0, *images.shape[1:3]), np.uint8)


@torch.no_grad()
def predict_image(model: nn.Module, image: np.ndarray, flip: bool = False) -> np.ndarray:
    """One (H, W, 3) uint8 image of any size -> (H, W) class indices at that size."""
    model.eval()
    height, width = model.input_size[1:]
    small = resize_image(image, (height, width))
    x = normalise(torch.from_numpy(small[None].copy()))  # (1, 3, h, w)
    logits = class_log_probs(model, x.to(next(model.parameters()).device), flip)  # (1, K, h, w)
    if tuple(image.shape[:2]) != (height, width):
        logits = F.interpolate(logits, size=image.shape[:2], mode="bilinear", align_corners=False)  # (1, K, H, W)
    return logits.argmax(1)[0].to(torch.uint8).cpu().numpy()


def overlay(image: np.ndarray, colours: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The label colours laid over the picture, half and half."""
    return (image.astype(np.float32) * (1 - alpha) + colours.astype(np.float32) * alpha).round().astype(np.uint8)


def pixel_fractions(labels: np.ndarray, palette: Palette) -> dict[str, float]:
    counts = np.bincount(labels.reshape(-1), minlength=palette.num_classes)[:palette.num_classes]
    return {name: float(c) / max(labels.size, 1) for name, c in zip(palette.names, counts)}


def predict_files(model: nn.Module, palette: Palette, files: list[str], out: str | os.PathLike,
                  flip: bool = False) -> list[dict]:
    """For each image: NAME_labels.png (colour label map) and NAME_overlay.png in `out`, and its class fractions."""
    out = Path(out)
    paths = [Path(f) for f in files]
    for path in paths:
        if not path.exists():
            raise DataError(f"{path}: no such file")
        if path.is_dir():
            raise DataError(f"{path}: is a folder; give image files")
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in paths:
        image = read_image(path)
        labels = predict_image(model, image, flip)
        colours = palette.decode(labels)
        label_file, overlay_file = out / f"{path.stem}_labels.png", out / f"{path.stem}_overlay.png"
        Image.fromarray(colours).save(label_file)
        Image.fromarray(overlay(image, colours)).save(overlay_file)
        fractions = pixel_fractions(labels, palette)
        ranked = sorted(((f, n) for n, f in fractions.items() if f > 0), reverse=True)
        results.append({
            "input": str(path), "size": list(image.shape[:2]),
            "class": ranked[0][1], "probability": ranked[0][0],  # the commonest class and its share of the pixels
            "top": [{"class": n, "probability": f} for f, n in ranked],  # every class present, by pixel share
            "fractions": fractions, "labels": str(label_file), "overlay": str(overlay_file),
        })
    return results
