"""A trained SegNet run loaded once: images of any size (files, PIL images, bytes, arrays) are resized to the run's
input size, labelled, and the class scores resized back, so every class map has its input's size (as SegNet's demo)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from shinsou.engine.evaluation import evaluate
from shinsou.engine.images import open_image
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.predictor import as_list, check_class_names, input_name
from shinsou.engine.records import class_map_record
from shinsou.engine.runs import load_run_model
from shinsou.errors import ConfigError, DataError
from shinsou.segnet.data import PairedBatches, SegmentationSet, load_folder_pair, load_segmentation_data, resize_image
from shinsou.segnet.palette import Palette
from shinsou.segnet.transforms import eval_transform, normalise


# ----------------------------------------------------------------------------------- scoring (training uses it too)
def class_log_probs(model: nn.Module, x: torch.Tensor, flip: bool = False) -> torch.Tensor:
    """(B, 3, H, W) -> (B, K, H, W) log class probabilities. With `flip` (test-time augmentation), the mean of the
    probabilities for the image and for its mirror image, mirrored back: a road scene is as likely either way."""
    logits = model(x).float()
    if not flip:
        return logits.log_softmax(1)
    probs = (logits.softmax(1) + model(x.flip(-1)).float().softmax(1).flip(-1)) / 2
    return probs.clamp_min(1e-12).log()


def make_forward(flip: bool = False):
    """forward(model, batch) for the engine's loop; Fabric's precision plugin autocasts the model, the loss stays
    float32. With `flip`, evaluation scores each image with its mirror image too (log-probabilities)."""

    def forward(model, batch):
        x, y = batch
        if flip and not model.training:
            return class_log_probs(model, x, flip=True), y
        return model(x).float(), y  # (B, K, H, W)

    return forward


def make_loss(weights, void_index: int) -> nn.Module:
    """Per-pixel softmax cross-entropy, classes weighted, Void pixels contributing nothing."""
    return nn.CrossEntropyLoss(weight=torch.as_tensor(weights, dtype=torch.float32), ignore_index=void_index)


def test_scores(model: nn.Module, test_set: SegmentationSet, loss_fn, new_metric, tta: bool, batch_size: int = 8) -> dict:
    """The paper's measures on a whole set; with `tta` the headline figures average each image with its mirror
    image, and `single_pass` keeps the plain network's figures beside them."""
    batches = PairedBatches(test_set, batch_size, eval_transform)
    metrics = evaluate(model, batches, loss_fn, new_metric, make_forward(flip=tta))
    metrics["tta"] = "flip" if tta else "none"
    if tta:
        plain = evaluate(model, batches, loss_fn, new_metric, make_forward())
        metrics["single_pass"] = {k: plain[k] for k in ("accuracy", "class_accuracy", "mean_iou")}
    return metrics


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


# ------------------------------------------------------------------------------------------------------ inputs
def read_inputs(item: Any, index: int = 0) -> list[tuple[str, np.ndarray]]:
    """One input -> [(name, (H, W, 3) uint8 RGB)]: an image file, bytes, a PIL image or an (H, W[, C]) uint8
    array, or every image of an (N, H, W, 3) uint8 array."""
    name = input_name(item, index)
    if isinstance(item, np.ndarray):
        if item.dtype != np.uint8:
            raise DataError(f"{name}: image arrays must be uint8 (0..255), got {item.dtype}")
        if item.ndim == 4:
            return [(f"{name}[{i}]", np.asarray(open_image(image, mode="RGB", name=f"{name}[{i}]")))
                    for i, image in enumerate(item)]
    if isinstance(item, (str, os.PathLike)) and Path(item).is_dir():
        raise DataError(f"{item}: is a folder; give image files")
    return [(name, np.asarray(open_image(item, mode="RGB", name=name)))]


def evaluation_set(config: dict, palette: Palette, size, data: str | None, images: str | None,
                   labels: str | None) -> SegmentationSet:
    """--images DIR --labels DIR, or the test split (val where there is none) of --data or of the run's own data."""
    if images is not None or labels is not None:
        if images is None or labels is None:
            raise DataError("--images DIR and --labels DIR go together (a folder of images and one of their masks)")
        return load_folder_pair(images, labels, palette, size)
    path = data if data is not None else config.get("data_used") or config.get("data")
    if path is None:
        raise DataError("this run records no data folder; pass --data DIR")
    found = load_segmentation_data(path, size, config.get("seed", 0), splits=("val", "test"))
    check_class_names(palette.names, found.palette.names, path)
    chosen = found.test if found.test is not None else found.val
    if chosen is None:
        raise DataError(f"{path}: no test/ or val/ split to evaluate on")
    return chosen


# ---------------------------------------------------------------------------------------------------- the run
class SegnetPredictor:
    """The SegNet of one run, its palette and input size, loaded once; `predict` gives a class map per image."""

    def __init__(self, run_dir: Path, model: nn.Module, config: dict):
        self.run_dir, self.model, self.config = Path(run_dir), model, config
        self.palette = Palette.from_config(config)
        self.class_names = list(self.palette.names)
        self.size = tuple(model.input_size[1:])  # (H, W) the network was trained at
        self.tta = bool(config.get("tta", False))

    def predict(self, inputs: Sequence[Any], tta: bool | None = None) -> list[dict]:
        """A class map (H, W) at each input's own size, its pixels per class, and the commonest class with its
        share; `tta` (default: as the run was trained) averages each image's class probabilities with its mirror's."""
        flip = self.tta if tta is None else tta
        items = [entry for i, item in enumerate(as_list(inputs)) for entry in read_inputs(item, i)]
        records = []
        for name, image in items:
            class_map = predict_image(self.model, image, flip)  # (H, W) at the input's size
            counts = np.bincount(class_map.reshape(-1), minlength=len(self.class_names))
            commonest = int(counts.argmax())  # what the table shows: the commonest class and its share of the pixels
            records.append(class_map_record(class_map, self.class_names, input=name, commonest=self.class_names[commonest],
                                            share=float(counts[commonest] / class_map.size)))
        return records

    def render(self, class_map: np.ndarray) -> Image.Image:
        """A class map in the palette's colours (Void black), for `shinsou predict --out`."""
        return Image.fromarray(self.palette.decode(class_map))

    def evaluate(self, data: str | None = None, images: str | None = None, labels: str | None = None) -> dict:
        """Global accuracy, class-average accuracy, mean IoU and per-class figures on the run's test split (val
        where there is none), another folder's (`data`), or any folder of images with one of masks."""
        test_set = evaluation_set(self.config, self.palette, self.size, data, images, labels)
        void = self.palette.void_index
        weights = self.config.get("class_weights") or [1.0] * self.palette.num_classes
        metrics = test_scores(self.model, test_set, make_loss(weights, void),
                              lambda: ConfusionMatrix(self.palette.num_classes, ignore_index=void), self.tta)
        metrics.update(source=test_set.source, images=len(test_set), size=f"{self.size[0]}x{self.size[1]}",
                       class_names=self.class_names, per_class_iou=dict(zip(self.class_names, metrics["per_class"]["iou"])))
        return metrics

    def explain_input(self, image: Any, index: int = 0, invert: bool = False) -> tuple[torch.Tensor, str]:
        """One input as the network sees it, for `shinsou explain features`: ((1, 3, H, W) tensor, its name)."""
        if invert:
            raise ConfigError("--invert applies to digit images, not to segnet's colour images")
        items = read_inputs(image, 0)
        if not 0 <= index < len(items):
            raise ConfigError(f"--index {index}: {input_name(image, 0)} holds {len(items)} image(s) (0..{len(items) - 1})")
        name, pixels = items[index]
        small = resize_image(pixels, self.size)
        return normalise(torch.from_numpy(small[None].copy())), name  # (1, 3, H, W)

    def example_input(self) -> np.ndarray:
        """One black (H, W, 3) image at the run's input size."""
        return np.zeros((*self.size, 3), dtype=np.uint8)


def load(run_dir: str | os.PathLike) -> SegnetPredictor:
    model, config = load_run_model(run_dir)
    return SegnetPredictor(Path(run_dir), model, config)
