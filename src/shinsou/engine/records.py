"""The few kinds of prediction record every Predictor returns, built here once: classes with top-k probabilities,
a value (with an interval where the model gives one), a class map, and boxes with optional masks."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def class_record(probabilities: Sequence[float], class_names: Sequence[str], top: int = 3, **extra: Any) -> dict:
    """(K,) probabilities -> {"class", "index", "probability", "top": [{"class", "probability"}, ...]} plus `extra`
    (`input`, `explanation`, `warning`...)."""
    p = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-p, kind="stable")[:max(1, top)]
    best = int(order[0])
    return {**{k: v for k, v in extra.items() if k == "input"},
            "class": str(class_names[best]), "index": best, "probability": float(p[best]),
            "top": [{"class": str(class_names[i]), "probability": float(p[i])} for i in order],
            **{k: v for k, v in extra.items() if k != "input"}}


def value_record(value: float, interval: tuple[float, float] | None = None, name: str = "value", **extra: Any) -> dict:
    """A regression output: {"value": v} (or another name), with {"interval": [low, high]} where the model gives one."""
    record = {**{k: v for k, v in extra.items() if k == "input"}, name: float(value)}
    if interval is not None:
        record["interval"] = [float(interval[0]), float(interval[1])]
    record.update({k: v for k, v in extra.items() if k != "input"})
    return record


def class_map_record(class_map: np.ndarray, class_names: Sequence[str], **extra: Any) -> dict:
    """(H, W) class indices -> {"class_map": the array, "pixels": {class: count}} (classes present only)."""
    class_map = np.asarray(class_map)
    counts = np.bincount(class_map.reshape(-1).astype(np.int64), minlength=len(class_names))
    pixels = {str(class_names[i]): int(c) for i, c in enumerate(counts[:len(class_names)]) if c}
    return {**{k: v for k, v in extra.items() if k == "input"}, "class_map": class_map, "pixels": pixels,
            **{k: v for k, v in extra.items() if k != "input"}}


def boxes_record(boxes: np.ndarray, labels: Sequence[int], scores: Sequence[float], class_names: Sequence[str],
                 masks: np.ndarray | None = None, **extra: Any) -> dict:
    """(N, 4) x1, y1, x2, y2 boxes with class and score each; (N, H, W) boolean masks where the model gives them."""
    objects = []
    for i, (box, label, score) in enumerate(zip(np.asarray(boxes, dtype=np.float64), labels, scores)):
        item = {"class": str(class_names[int(label)]), "index": int(label), "score": float(score),
                "box": [float(v) for v in box]}
        if masks is not None:
            item["mask"] = np.asarray(masks[i], dtype=bool)
        objects.append(item)
    return {**{k: v for k, v in extra.items() if k == "input"}, "objects": objects,
            **{k: v for k, v in extra.items() if k != "input"}}


def record_kind(record: dict) -> str:
    """Which of the kinds above a record is (the CLI and the service choose their table or answer by it)."""
    if "class_map" in record:
        return "class_map"
    if "objects" in record:
        return "boxes"
    if "class" in record and "probability" in record:
        return "classes"
    return "value"
