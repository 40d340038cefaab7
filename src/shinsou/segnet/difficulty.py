"""How hard a segmentation data set is, before any network: each class's pixel share, how many images hold it,
its objects' sizes, the share of pixels on a class boundary, and a per-pixel gradient-boosting baseline.

    python -m shinsou.segnet.difficulty DATA_DIR [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from scipy import ndimage
from sklearn.ensemble import HistGradientBoostingClassifier

from shinsou.engine.metrics import ConfusionMatrix
from shinsou.segnet.data import SegmentationSet, load_segmentation_data

SMALL_OBJECT = 30  # pixels: below this an object is a few pixels across at 96x128


def class_statistics(masks: np.ndarray, names: list[str]) -> list[dict]:
    """Per class: pixel share, share of images that hold it, median object size and share of small objects,
    objects being 8-connected components of one class in one mask. masks: (N, H, W) class indices."""
    counts = np.bincount(masks.ravel(), minlength=len(names) + 1)
    present = np.stack([np.bincount(m.ravel(), minlength=len(names) + 1) > 0 for m in masks]).mean(0)
    rows = []
    for c, name in enumerate(names):
        areas = []
        for mask in masks:
            labels, n = ndimage.label(mask == c, structure=np.ones((3, 3)))
            if n:
                areas.extend(np.bincount(labels.ravel())[1:].tolist())
        areas = np.asarray(areas or [0])
        rows.append({"class": name, "pixel_share": counts[c] / masks.size, "images_with": float(present[c]),
                     "median_object_px": float(np.median(areas)), "small_objects": float((areas < SMALL_OBJECT).mean())})
    return rows


def boundary_share(masks: np.ndarray) -> float:
    """Share of pixels whose right or lower neighbour has another label (or who are that neighbour)."""
    edge = np.zeros(masks.shape, dtype=bool)
    across = masks[:, :, 1:] != masks[:, :, :-1]
    down = masks[:, 1:, :] != masks[:, :-1, :]
    edge[:, :, 1:] |= across
    edge[:, :, :-1] |= across
    edge[:, 1:, :] |= down
    edge[:, :-1, :] |= down
    return float(edge.mean())


def pixel_features(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N*H*W, 5): colour and the pixel's relative row and column."""
    n, h, w, _ = images.shape
    rows, cols = np.mgrid[0:h, 0:w]
    position = np.tile(np.stack([rows.ravel() / h, cols.ravel() / w], 1), (n, 1))
    return np.concatenate([images.reshape(-1, 3), position], 1).astype(np.float32)


def pixel_baseline(train: SegmentationSet, test: SegmentationSet, num_classes: int, samples: int = 300_000,
                   seed: int = 0) -> dict:
    """Gradient boosting on (R, G, B, row, column) of single pixels: what colour and position alone achieve."""
    labels = train.masks.ravel()
    labelled = np.flatnonzero(labels < num_classes)
    pick = np.random.default_rng(seed).choice(labelled, min(samples, labelled.size), replace=False)
    model = HistGradientBoostingClassifier(max_iter=200, random_state=seed)
    model.fit(pixel_features(train.images)[pick], labels[pick])
    matrix = ConfusionMatrix(num_classes, ignore_index=num_classes)
    matrix.update(torch.from_numpy(model.predict(pixel_features(test.images)).astype(np.int64)),
                  torch.from_numpy(test.masks.ravel().astype(np.int64)))
    return matrix.compute()


def describe(path: str) -> dict:
    data = load_segmentation_data(path)
    names = list(data.palette.names)
    test = data.test if data.test is not None else data.val
    baseline = pixel_baseline(data.train, test, data.palette.num_classes)
    return {"classes": class_statistics(data.train.masks, names), "boundary_share": boundary_share(data.train.masks),
            "pixel_baseline": {k: baseline[k] for k in ("accuracy", "class_accuracy", "mean_iou")},
            "pixel_baseline_iou": dict(zip(names, baseline["per_class"]["iou"]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="a CamVid-layout or images/ + labels/ folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    result = describe(args.data)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print("| class | pixel share | images with it | median object (px) | objects under 30 px | pixel-baseline IoU |")
    print("|---|---|---|---|---|---|")
    for row in result["classes"]:
        print(f"| {row['class']} | {row['pixel_share']:.1%} | {row['images_with']:.0%} | {row['median_object_px']:.0f} "
              f"| {row['small_objects']:.0%} | {result['pixel_baseline_iou'][row['class']]:.2f} |")
    b = result["pixel_baseline"]
    print(f"\npixels on a class boundary: {result['boundary_share']:.1%}; per-pixel gradient boosting on (R, G, B, "
          f"row, column): global accuracy {b['accuracy']:.3f}, class average {b['class_accuracy']:.3f}, "
          f"mIoU {b['mean_iou']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
