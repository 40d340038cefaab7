"""A trained digit run loaded once for prediction and evaluation (PNG/JPEG/IDX/CSV, arrays, PIL images, bytes).
Photos and scans are converted the way MNIST was made: grey, white ink on black, ink box scaled to 20x20, centred by mass in 28x28."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.evaluation import evaluate
from shinsou.engine.images import is_image_file, open_image
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.predictor import as_list, check_class_names, input_name
from shinsou.engine.records import class_record
from shinsou.engine.runs import load_run_model
from shinsou.errors import ConfigError, DataError
from shinsou.formats.idx import read_idx
from shinsou.formats.kaggle_csv import read_kaggle_csv
from shinsou.mnist.data import DIGIT_NAMES, DigitSet, load_labelled_files
from shinsou.mnist.transforms import eval_transform

SIDE = 28  # every digit model here takes 28x28 images (LeNet-5 pads them to 32)
DARK_ON_LIGHT = "the image looks like dark ink on a light background; pass --invert"


@torch.no_grad()
def predict_proba(model: nn.Module, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, K) class probabilities."""
    model.eval()
    device = next(model.parameters()).device
    size = model.input_size[-1]
    out = []
    for start in range(0, len(images), batch_size):
        chunk = torch.from_numpy(np.array(images[start:start + batch_size], dtype=np.uint8))  # a copy: inputs may be read-only memory maps
        out.append(torch.softmax(model(eval_transform(chunk, size).to(device)), 1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, model.head.out_features), np.float32)


def to_mnist_style(grey: np.ndarray) -> np.ndarray:
    """Any-size grey image, white ink on black (uint8) -> 28x28 as MNIST: ink bounding box scaled to fit
    20x20 keeping its aspect, then placed so that its centre of mass sits at the centre of 28x28."""
    if grey.shape == (SIDE, SIDE):
        return grey
    ink = grey > 0.2 * grey.max() if grey.max() > 0 else np.zeros_like(grey, bool)
    if not ink.any():
        return np.asarray(Image.fromarray(grey).resize((SIDE, SIDE), Image.BILINEAR))
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = grey[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(crop).resize((new_w, new_h), Image.LANCZOS), dtype=np.float64)
    canvas = np.zeros((SIDE, SIDE))
    top, left = (SIDE - new_h) // 2, (SIDE - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = small
    total = canvas.sum()
    if total > 0:  # shift the centre of mass to (14, 14)
        ys, xs = np.indices(canvas.shape)
        dy, dx = int(round(14 - (ys * canvas).sum() / total)), int(round(14 - (xs * canvas).sum() / total))
        canvas = np.roll(canvas, (dy, dx), axis=(0, 1))
    return canvas.clip(0, 255).astype(np.uint8)


def looks_dark_on_light(grey: np.ndarray) -> bool:
    """MNIST is white ink on black: a bright border means the image probably needs --invert."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(np.median(border)) > 127


def decode_digit(source: Any, invert: bool, name: str) -> tuple[np.ndarray, bool]:
    """One image (path, bytes, PIL image or array) -> (28x28 uint8 MNIST-style, looks dark-on-light)."""
    grey = np.asarray(open_image(source, mode="L", name=name))
    if invert:
        grey = 255 - grey
    return to_mnist_style(grey), looks_dark_on_light(grey)


def check_digit_images(images: np.ndarray, source) -> np.ndarray:
    if images.ndim != 3:
        raise DataError(f"{source}: images need 3 dimensions (count, rows, columns), found {images.ndim}")
    if images.dtype != np.uint8:
        raise DataError(f"{source}: images must be unsigned bytes, found {images.dtype}")
    if images.shape[1:] != (SIDE, SIDE):
        raise DataError(f"{source}: images are {images.shape[1]}x{images.shape[2]}, the model takes {SIDE}x{SIDE} "
                        f"(MNIST's size); resize them or pass them as image files")
    return images


def load_inputs(item: Any, index: int = 0, invert: bool = False) -> list[tuple[str, np.ndarray, bool]]:
    """One input -> [(name, 28x28 uint8, looks dark-on-light)]: an image (file, bytes, PIL, (H, W) array), or
    every image of an IDX or Kaggle CSV file, or of an (N, 28, 28) array."""
    name = input_name(item, index)
    if isinstance(item, np.ndarray) and item.ndim == 3 and item.shape[-1] not in (3, 4):
        images = check_digit_images(item, name)
        images = 255 - images if invert else images
        return [(f"{name}[{i}]", img, False) for i, img in enumerate(images)]
    if not isinstance(item, (str, os.PathLike)) or is_image_file(item):
        return [(name, *decode_digit(item, invert, name))]
    path = Path(item)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        images, _ = read_kaggle_csv(path)
    else:
        images = np.asarray(read_idx(path))
    images = check_digit_images(images, path)
    if invert:
        images = 255 - images
    return [(f"{path}[{i}]", np.asarray(img), False) for i, img in enumerate(images)]


class DigitPredictor:
    """LeNet of one run, its class names and preprocessing, loaded once."""

    def __init__(self, run_dir: Path, model: nn.Module, config: dict):
        self.run_dir, self.model, self.config = Path(run_dir), model, config
        self.class_names = config.get("class_names") or DIGIT_NAMES

    def predict(self, inputs: Sequence[Any], invert: bool = False, top: int = 3) -> list[dict]:
        items = [entry for i, item in enumerate(as_list(inputs)) for entry in load_inputs(item, i, invert)]
        if not items:
            return []
        probs = predict_proba(self.model, np.stack([image for _, image, _ in items]))
        return [class_record(p, self.class_names, top, input=name, **({"warning": DARK_ON_LIGHT} if dark else {}))
                for (name, _, dark), p in zip(items, probs)]

    def evaluate(self, data: str | None = None, images: str | None = None, labels: str | None = None) -> dict:
        """Accuracy, per-class metrics and the confusion matrix on the run's test split, another MNIST-layout
        folder or Kaggle CSV (`data`), or an IDX pair (`images`, `labels`)."""
        from shinsou.mnist.train import test_split

        if images is not None:
            digits = load_labelled_files(images, labels)
        else:
            digits, names = test_split(data if data is not None else self.config.get("data"), self.config.get("seed", 0))
            check_class_names(self.class_names, names, data or self.config.get("data") or "the embedded sample")
        return self.evaluate_digits(digits)

    def evaluate_digits(self, digits: DigitSet) -> dict:
        images = check_digit_images(np.asarray(digits.images), digits.source)
        x = eval_transform(torch.from_numpy(np.array(images, dtype=np.uint8)), self.model.input_size[-1])
        y = torch.from_numpy(np.array(digits.labels, dtype=np.int64))
        metrics = evaluate(self.model, InMemoryBatches(x, y, 1000), nn.CrossEntropyLoss(),
                           lambda: ConfusionMatrix(len(self.class_names)))
        return {**metrics, "source": digits.source, "class_names": self.class_names}

    def explain_input(self, image: Any, index: int = 0, invert: bool = False) -> tuple[torch.Tensor, str]:
        """One input as the network sees it, for `shinsou explain features`: ((1, 1, S, S) tensor, its name)."""
        items = load_inputs(image, 0, invert)
        if not 0 <= index < len(items):
            raise ConfigError(f"--index {index}: {image} holds {len(items)} image(s) (0..{len(items) - 1})")
        name, pixels, _ = items[index]
        return eval_transform(torch.from_numpy(np.array(pixels, dtype=np.uint8))[None], self.model.input_size[-1]), name

    def example_input(self) -> np.ndarray:
        """One blank 28x28 digit image, the shape every input is converted to."""
        return np.zeros((SIDE, SIDE), dtype=np.uint8)


def load(run_dir: str | os.PathLike) -> DigitPredictor:
    model, config = load_run_model(run_dir)
    return DigitPredictor(Path(run_dir), model, config)
