"""Prediction with a trained digit model on PNG/JPEG/IDX/CSV inputs. Photos and scans are converted the
way MNIST was made: grey, white ink on black (`invert` for dark-on-light), ink box scaled to 20x20, centred by mass in 28x28."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import nn

from shinsou.cnn.transforms import eval_transform
from shinsou.errors import DataError
from shinsou.formats.idx import read_idx
from shinsou.formats.kaggle_csv import read_kaggle_csv

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@torch.no_grad()
def predict_proba(model: nn.Module, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, K) class probabilities."""
    model.eval()
    device = next(model.parameters()).device
    size = model.input_size[-1]
    out = []
    for start in range(0, len(images), batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
        out.append(torch.softmax(model(eval_transform(chunk, size).to(device)), 1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.head.out_features), np.float32)


def to_mnist_style(grey: np.ndarray) -> np.ndarray:
    """Any-size grey image, white ink on black (uint8) -> 28x28 as MNIST: ink bounding box scaled to fit
    20x20 keeping its aspect, then placed so that its centre of mass sits at the centre of 28x28."""
    if grey.shape == (28, 28):
        return grey
    ink = grey > 0.2 * grey.max() if grey.max() > 0 else np.zeros_like(grey, bool)
    if not ink.any():
        return np.asarray(Image.fromarray(grey).resize((28, 28), Image.BILINEAR))
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = grey[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(crop).resize((new_w, new_h), Image.LANCZOS), dtype=np.float64)
    canvas = np.zeros((28, 28))
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = small
    total = canvas.sum()
    if total > 0:  # shift the centre of mass to (14, 14)
        ys, xs = np.indices(canvas.shape)
        dy, dx = int(round(14 - (ys * canvas).sum() / total)), int(round(14 - (xs * canvas).sum() / total))
        canvas = np.roll(canvas, (dy, dx), axis=(0, 1))
    return canvas.clip(0, 255).astype(np.uint8)


def read_image_file(path: Path, invert: bool) -> np.ndarray:
    try:
        with Image.open(path) as image:
            grey = np.asarray(image.convert("L"))
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: cannot be read as an image ({e.__class__.__name__})") from None
    if invert:
        grey = 255 - grey
    return to_mnist_style(grey), looks_dark_on_light(grey)


def looks_dark_on_light(grey: np.ndarray) -> bool:
    """MNIST is white ink on black: a bright border means the image probably needs --invert."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(np.median(border)) > 127


def load_inputs(path: str | os.PathLike, invert: bool = False) -> list[tuple[str, np.ndarray, bool]]:
    """One file -> [(name, 28x28 uint8, looks dark-on-light)]: one image for PNG/JPEG, every image of an IDX or CSV file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return [(str(path), *read_image_file(path, invert))]
    if suffix == ".csv":
        images, _ = read_kaggle_csv(path)
    else:
        images = np.asarray(read_idx(path))
        if images.ndim != 3:
            raise DataError(f"{path}: an IDX file with {images.ndim} dimension(s); images need 3 (count, rows, columns)")
        if images.dtype != np.uint8:
            raise DataError(f"{path}: IDX images must be unsigned bytes, found {images.dtype}")
    if invert:
        images = 255 - images
    return [(f"{path}[{i}]", np.asarray(img), False) for i, img in enumerate(images)]


def predict_files(model: nn.Module, class_names: list[str], files: list[str], invert: bool = False, top: int = 3) -> list[dict]:
    inputs = [item for file in files for item in load_inputs(file, invert)]
    probs = predict_proba(model, np.stack([image for _, image, _ in inputs]))
    results = []
    for (name, _, dark_on_light), p in zip(inputs, probs):
        order = np.argsort(-p)[:top]
        result = {"input": name, "class": class_names[order[0]], "index": int(order[0]),
                  "probability": float(p[order[0]]),
                  "top": [{"class": class_names[i], "probability": float(p[i])} for i in order]}
        if dark_on_light:
            result["warning"] = "the image looks like dark ink on a light background; pass --invert"
        results.append(result)
    return results
