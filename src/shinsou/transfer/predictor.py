"""A trained transfer run loaded once for prediction and evaluation (image files, IDX files, PIL images, bytes, arrays);
images are fitted and normalised as the backbone's ImageNet weights define (transforms.py), the same as in training."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from shinsou.engine.checkpoint import BEST, load_weights
from shinsou.engine.config import load_run_config
from shinsou.engine.images import IMAGE_SUFFIXES, is_image_file, open_image
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.predictor import as_list, check_class_names, input_name
from shinsou.engine.records import class_record
from shinsou.errors import ConfigError, DataError
from shinsou.formats.idx import read_idx
from shinsou.transfer.backbones import BACKBONES, TransferNet, build_backbone
from shinsou.transfer.data import ImageFiles, ImageSet, SplitPlan, fit_square, load_transfer_data, resample_filter, to_rgb
from shinsou.transfer.transforms import eval_transform

# Images per forward pass: 8 at 96x96, 1 at 224x224 (at most 256). Small batches keep each activation within the CPU
# caches and let glibc reuse freed memory: at 100 images of 96x96 every activation tensor (88 MB) was a fresh mmap
# that the kernel zero-filled page by page (2,000 page faults per image, most of the system time of an evaluation).
EVAL_PIXELS = 8 * 96 * 96


def eval_batch_size(model: TransferNet) -> int:
    side = model.input_size[-1]
    return max(1, min(256, EVAL_PIXELS // (side * side)))


def for_inference(model: nn.Module) -> nn.Module:
    """Eval mode, weights in channels_last (NHWC): oneDNN runs depthwise and 1x1 convolutions on NHWC directly,
    without reordering every activation (1.3-1.6x faster on CPU here), as training does (engine.trainer.setup)."""
    return model.eval().to(memory_format=torch.channels_last)


def load_transfer_run(run_dir: str | os.PathLike, which: str = BEST) -> tuple[TransferNet, dict]:
    """The run's backbone (config.yaml's `model` and `model_options`) with its kept weights, ready for inference.
    The same as engine.runs.load_run_model, without going through the models registry."""
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    if config.get("model") not in BACKBONES:
        raise DataError(f"{run_dir}: not a transfer run (model {config.get('model')!r})")
    if not (run_dir / which).exists():
        raise DataError(f"{run_dir}: no {which} (the run stopped before its first epoch ended)")
    model = build_backbone(config["model"], **{**config.get("model_options", {}), "weights": "none"})
    load_weights(model, run_dir / which)
    return for_inference(model), config


def model_input(model: TransferNet, images: torch.Tensor) -> torch.Tensor:
    """(B, 1|3, h, w) uint8 -> (B, 3, S, S) float, normalised for the weights, NHWC in memory."""
    x = eval_transform(model.preprocess, model.input_size[-1])(images)
    return x.contiguous(memory_format=torch.channels_last)


def predict_proba(model: TransferNet, images: torch.Tensor) -> np.ndarray:
    """(N, C, h, w) uint8 -> (N, K) class probabilities, a few images per forward pass."""
    model.eval()

    @torch.inference_mode()
    def probabilities(chunk: torch.Tensor) -> torch.Tensor:
        return torch.softmax(model(model_input(model, chunk)), 1)  # (B, K)

    step = eval_batch_size(model)
    if len(images) <= step:  # one forward pass: torch's own threads share it
        return probabilities(images).numpy() if len(images) else np.zeros((0, model.head.out_features), np.float32)
    chunks = (images[i:i + step] for i in range(0, len(images), step))
    return torch.cat(list(batch_parallel(probabilities, chunks))).numpy()


def evaluate_split(model: TransferNet, split: ImageSet | ImageFiles, num_classes: int, log=None) -> dict:
    """Loss, accuracy, per-class metrics and the confusion matrix over a split, read batch by batch (ImageFiles decode
    each batch as it comes, so memory stays flat); corrupt files skipped on the way are listed in `skipped_files`."""
    model.eval()

    @torch.inference_mode()  # per thread: inference mode is thread-local
    def score(batch):
        images, labels, bad = batch
        if not len(labels):
            return None, bad
        targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        return (model(model_input(model, images)), targets), bad  # (B, K) logits

    metric, loss_fn = ConfusionMatrix(num_classes), nn.CrossEntropyLoss()
    total_loss, seen, skipped = 0.0, 0, []
    for scored, bad in batch_parallel(score, split.batches(eval_batch_size(model), log)):
        skipped += bad
        if scored is not None:
            logits, targets = scored
            total_loss += loss_fn(logits, targets).item() * len(targets)
            seen += len(targets)
            metric.update(logits, targets)
    return {"loss": total_loss / max(seen, 1), **metric.compute(), "source": split.source, "skipped_files": skipped}


def batch_parallel(function: Callable, batches: Iterable) -> Iterator:
    """`function(batch)` for every batch, the results in order: one batch per thread, each thread computing alone
    (intra-op threads 1 while it runs), at most two batches per thread in flight.

    Why not torch's own threads: they split every operation of a small batch and meet after each one, so on a
    machine whose cores are also busy with other work each meeting waits for a descheduled thread. Whole batches
    per thread never wait for each other: on the shared 2-core machine, 10,000 Fashion-MNIST images at 96x96
    through EfficientNet-Lite0 took 231 s with torch's 2 threads per operation, 46 s with one thread, 31 s so."""
    workers = torch.get_num_threads()
    if workers <= 1:
        yield from map(function, batches)
        return
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            pending: deque = deque()
            for batch in batches:
                pending.append(pool.submit(function, batch))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    finally:
        torch.set_num_threads(workers)


def load_inputs(item: Any, index: int, size: int, interpolation: str) -> list[tuple[str, torch.Tensor]]:
    """One input -> [(name, (C, h, w) uint8)]: an image (file, bytes, PIL image, (H, W[, 3|4]) array) fitted as
    training fits it, or every image of an IDX file or an (N, H, W) uint8 array, grey (1, H, W)."""
    name = input_name(item, index)
    if isinstance(item, np.ndarray) and item.ndim == 3 and item.shape[-1] not in (3, 4):
        return [(f"{name}[{i}]", image) for i, image in enumerate(grey_stack(item, name))]
    if isinstance(item, (str, os.PathLike)) and not is_image_file(item):
        path = Path(item)
        if not path.exists():
            raise DataError(f"{path}: no such file")
        if "idx3" not in path.name:
            raise DataError(f"{path}: not an image ({', '.join(sorted(IMAGE_SUFFIXES))}) or IDX image file")
        return [(f"{path}[{i}]", image) for i, image in enumerate(grey_stack(np.asarray(read_idx(path)), path))]
    rgb = fit_square(to_rgb(open_image(item, name=name)), size, resample_filter(interpolation))  # (h, w, 3)
    return [(name, torch.from_numpy(np.array(rgb)).permute(2, 0, 1))]  # (3, h, w), a writable copy


def grey_stack(images: np.ndarray, source) -> torch.Tensor:
    """(N, H, W) uint8, as IDX files hold them -> (N, 1, H, W)."""
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{source}: IDX images must be unsigned bytes of shape (count, rows, columns), "
                        f"got {images.dtype} {tuple(images.shape)}")
    return torch.from_numpy(np.array(images)).unsqueeze(1)


class TransferPredictor:
    """The fine-tuned backbone of one run, its class names and preprocessing, loaded once."""

    def __init__(self, run_dir: Path, model: TransferNet, config: dict):
        self.run_dir, self.model, self.config = Path(run_dir), model, config
        self.class_names = [str(c) for c in config.get("class_names") or range(model.head.out_features)]
        self.size = model.input_size[-1]

    def _inputs(self, inputs: Iterable[Any]) -> list[tuple[str, torch.Tensor]]:
        interpolation = self.model.preprocess.interpolation
        return [entry for i, item in enumerate(inputs) for entry in load_inputs(item, i, self.size, interpolation)]

    def predict(self, inputs: Sequence[Any], top: int = 3) -> list[dict]:
        """Class, probability and the `top` most probable classes of every image (an IDX file gives one per image)."""
        items = self._inputs(as_list(inputs))
        probs: list[np.ndarray | None] = [None] * len(items)
        groups: dict[tuple, list[int]] = {}
        for i, (_, image) in enumerate(items):  # images of one shape go through the network together
            groups.setdefault(tuple(image.shape), []).append(i)
        for members in groups.values():
            for i, p in zip(members, predict_proba(self.model, torch.stack([items[i][1] for i in members]))):
                probs[i] = p
        return [class_record(p, self.class_names, top, input=name) for (name, _), p in zip(items, probs)]

    def evaluate(self, data: str | None = None) -> dict:
        """Accuracy, per-class metrics and the confusion matrix on the test split of the run's data, or of `data`
        split the same way (seed, fractions); folder images are decoded batch by batch."""
        path = data if data is not None else self.config.get("data")
        loaded = load_transfer_data(path, SplitPlan.from_config(self.config), self.size, splits=("test",),
                                    strict=self.config.get("strict", False), log=lambda line: None,
                                    interpolation=self.model.preprocess.interpolation, lazy=True)
        check_class_names(self.class_names, loaded.class_names, str(path))
        metrics = evaluate_split(self.model, loaded.splits["test"], len(self.class_names))
        return {**metrics, "class_names": self.class_names}

    def explain_input(self, image: Any, index: int = 0, invert: bool = False) -> tuple[torch.Tensor, str]:
        """One input as the network sees it, for `shinsou explain features`: ((1, 3, S, S) tensor, its name)."""
        items = self._inputs([image])
        if not 0 <= index < len(items):
            raise ConfigError(f"--index {index}: {image} holds {len(items)} image(s) (0..{len(items) - 1})")
        name, pixels = items[index]
        if invert:
            pixels = 255 - pixels
        return eval_transform(self.model.preprocess, self.size)(pixels[None]), name

    def example_input(self) -> np.ndarray:
        """One mid-grey RGB image of the run's size (any size is fitted to it)."""
        return np.full((self.size, self.size, 3), 128, dtype=np.uint8)


def load(run_dir: str | os.PathLike) -> TransferPredictor:
    model, config = load_transfer_run(run_dir)
    return TransferPredictor(Path(run_dir), model, config)
