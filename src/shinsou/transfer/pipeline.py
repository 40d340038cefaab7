"""The transfer pipeline's entry points for `shinsou evaluate` and `shinsou predict` (training: train.py):
each rebuilds the run's backbone from RUN_DIR and preprocesses the user's images as the weights define."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from shinsou.errors import DataError
from shinsou.formats.idx import read_idx
from shinsou.transfer.data import IMAGE_SUFFIXES, SplitPlan, decode_images, load_transfer_data
from shinsou.transfer.report import predict_proba
from shinsou.transfer.train import TransferConfig, evaluate_test, load_transfer_run, split_plan


def run_plan(config: dict) -> SplitPlan:
    cfg = TransferConfig(**{k: v for k, v in config.items() if k in TransferConfig.__dataclass_fields__})
    return split_plan(cfg)


def evaluate_run(run_dir: str | Path, data: str | None = None) -> dict:
    """Accuracy (and per-class metrics) on the test split of the run's data, or of `data` split the same way."""
    model, config = load_transfer_run(run_dir)
    path = data if data is not None else config.get("data")
    loaded = load_transfer_data(path, run_plan(config), model.input_size[-1], splits=("test",),
                                strict=config.get("strict", False), interpolation=model.preprocess.interpolation)
    class_names = config.get("class_names") or loaded.class_names
    if loaded.kind == "folder" and loaded.class_names != class_names:
        raise DataError(f"{path}: class folders {loaded.class_names} differ from the run's classes {class_names}")
    if len(loaded.class_names) != len(class_names):
        raise DataError(f"{path}: {len(loaded.class_names)} classes, the run was trained on {len(class_names)}")
    metrics = evaluate_test(model, loaded.splits["test"], len(class_names))
    metrics["class_names"] = class_names
    metrics["skipped_files"] = loaded.skipped
    return metrics


def load_inputs(file: str, size: int, interpolation: str) -> list[tuple[str, torch.Tensor]]:
    """An image file -> [(name, (3, h, w) uint8)]; an IDX image file -> one grey (1, 28, 28) per image."""
    path = Path(file)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        images, ok, _ = decode_images([str(path)], size, strict=True, log=print, interpolation=interpolation)
        return [(str(path), images[0])]
    if "idx3" in path.name:
        images = np.asarray(read_idx(path))
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(f"{path}: IDX images must be unsigned bytes of shape (count, rows, columns)")
        return [(f"{path}[{i}]", torch.from_numpy(np.ascontiguousarray(img)).unsqueeze(0)) for i, img in enumerate(images)]
    raise DataError(f"{path}: not an image ({', '.join(sorted(IMAGE_SUFFIXES))}) or IDX image file")


def predict_run(run_dir: str | Path, files: list[str], out: str | None = None, top: int = 3) -> list[dict]:
    model, config = load_transfer_run(run_dir)
    class_names = config.get("class_names") or [str(i) for i in range(model.head.out_features)]
    size = model.input_size[-1]
    results = []
    for file in files:
        inputs = load_inputs(file, size, model.preprocess.interpolation)
        groups: dict[tuple, list] = {}
        for name, image in inputs:  # stack images of one shape together
            groups.setdefault(tuple(image.shape), []).append((name, image))
        for group in groups.values():
            probs = predict_proba(model, torch.stack([image for _, image in group]))
            for (name, _), p in zip(group, probs):
                order = np.argsort(-p)[:top]
                results.append({"input": name, "class": class_names[order[0]], "index": int(order[0]),
                                "probability": float(p[order[0]]),
                                "top": [{"class": class_names[i], "probability": float(p[i])} for i in order]})
    return results
