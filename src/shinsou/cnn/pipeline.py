"""The MNIST pipeline's entry points for `shinsou evaluate` and `shinsou predict` (training: train.py):
each takes a run directory, rebuilds the model from it and works on the user's data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from shinsou.cnn.data import DigitSet, load_digit_data, load_labelled_files, stratified_split
from shinsou.cnn.predict import predict_files
from shinsou.cnn.transforms import eval_transform
from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.runs import load_run_model
from shinsou.engine.trainer import evaluate


def test_split(data_path: str | None, seed: int) -> DigitSet:
    """The test split a run was measured on: t10k, or the held-out 10% when the source has no t10k."""
    data = load_digit_data(data_path)
    if data.test is not None:
        return data.test
    _, held = stratified_split(data.train.labels, 0.1, seed)
    return DigitSet(data.train.images[held], data.train.labels[held], data.train.source + " (held-out 10%)")


def evaluate_run(run_dir: str | Path, data: str | None = None, images: str | None = None,
                 labels: str | None = None) -> dict:
    model, config = load_run_model(run_dir)
    if images is not None:
        digits = load_labelled_files(images, labels)
    else:
        digits = test_split(data if data is not None else config.get("data"), config.get("seed", 0))
    class_names = config.get("class_names") or [str(i) for i in range(10)]
    metrics = evaluate_digits(model, digits, len(class_names))
    metrics["source"] = digits.source
    metrics["class_names"] = class_names
    return metrics


def evaluate_digits(model: nn.Module, digits: DigitSet, num_classes: int) -> dict:
    x = eval_transform(torch.from_numpy(np.ascontiguousarray(digits.images)), model.input_size[-1])
    y = torch.from_numpy(np.asarray(digits.labels, dtype=np.int64))
    return evaluate(model, InMemoryBatches(x, y, 1000), nn.CrossEntropyLoss(), lambda: ConfusionMatrix(num_classes))


def predict_run(run_dir: str | Path, files: list[str], invert: bool = False, out: str | None = None) -> list[dict]:
    model, config = load_run_model(run_dir)
    class_names = config.get("class_names") or [str(i) for i in range(10)]
    return predict_files(model, class_names, files, invert=invert)
