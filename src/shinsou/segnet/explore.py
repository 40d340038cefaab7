"""`shinsou explore segnet`: a segmentation data set before training: images beside their label maps, each class's
share of the pixels per split, the files' sizes, masks that are all Void, and exact duplicates across the splits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from shinsou.engine.explore import content_hashes, duplicates_across, duplicates_within, write_explore
from shinsou.engine.report import Section, bar_chart, figure_path, image_grid
from shinsou.segnet.config import Config
from shinsou.segnet.data import SegmentationSet, class_frequencies, load_segmentation_data
from shinsou.segnet.palette import Palette
from shinsou.segnet.train import resolve_data


def pixel_share_table(splits: dict[str, SegmentationSet], palette: Palette) -> list[list]:
    """Rows: class (and Void), then its share of the pixels in each split and the share of images holding it."""
    k = palette.num_classes
    counts = {name: np.bincount(s.masks.reshape(-1), minlength=k + 1)[:k + 1] for name, s in splits.items()}
    holding = {name: np.stack([np.bincount(m.reshape(-1), minlength=k + 1)[:k + 1] > 0 for m in s.masks]).mean(0)
               for name, s in splits.items()}
    rows = [["class", *[f"{name} pixels (%)" for name in splits], *[f"{name} images with it (%)" for name in splits]]]
    for c, cls in enumerate([*palette.names, "Void"]):
        rows.append([cls, *[f"{100 * counts[n][c] / max(counts[n].sum(), 1):.1f}" for n in splits],
                     *[f"{100 * holding[n][c]:.0f}" for n in splits]])
    return rows


def file_sizes(files: list[str]) -> str:
    """'96x128 (400)' or '360x480 (300), 720x960 (67)': the files' own sizes (HxW), before any resizing."""
    sizes = Counter()
    for path in files:
        with Image.open(path) as image:
            sizes[f"{image.height}x{image.width}"] += 1
    return ", ".join(f"{size} ({n})" for size, n in sizes.most_common())


def explore(cfg: Config, out: Path) -> dict:
    path, size = resolve_data(cfg)
    data = load_segmentation_data(path, size, cfg.seed)
    palette = data.palette
    splits = {"train": data.train, "val": data.val, **({"test": data.test} if data.test is not None else {})}
    train = data.train

    shown = range(min(8, len(train)))
    pictures = [picture for i in shown for picture in (train.images[i], palette.decode(train.masks[i]))]
    captions = [caption for i in shown for caption in (Path(train.files[i]).name, "label map")]
    samples = image_grid(pictures, captions, figure_path(out, "samples.png"), cols=4,
                         title="training images and their label maps (Void black)")
    shares = class_frequencies(train.masks, palette.num_classes) / max(train.masks.size, 1)
    bars = bar_chart(list(shares), list(palette.names), figure_path(out, "class_pixels.png"),
                     title="share of the training pixels per class", xlabel="share of pixels")

    hashes = {name: content_hashes(s.images) for name, s in splits.items()}
    all_void = {name: int((s.masks.reshape(len(s), -1) >= palette.num_classes).all(1).sum()) for name, s in splits.items()}
    source = cfg.data or f"{cfg.scenes} generated road scenes ({path})"
    summary = {"source": source, "layout": data.layout, "classes": palette.num_classes, "palette": palette.source,
               **{f"{name} images": len(s) for name, s in splits.items()},
               "file sizes (HxW)": file_sizes([f for s in splits.values() for f in s.files]),
               "read at (HxW)": f"{train.images.shape[1]}x{train.images.shape[2]}",
               "Void share of train pixels": round(float((train.masks >= palette.num_classes).mean()), 4),
               "rarest class share of train pixels": round(float(shares.min()), 4),
               "masks all Void": sum(all_void.values()),
               "duplicates within train": duplicates_within(hashes["train"]),
               **{f"{name} images also in train": duplicates_across(hashes["train"], hashes[name])
                  for name in splits if name != "train"}}
    sections = [
        Section("Samples", figures=[samples]),
        Section("Class pixels", text=["Each class's share of the pixels of a split (Void included), and the share "
                                      "of the split's images that hold the class at all."],
                tables=[pixel_share_table(splits, palette)], figures=[bars]),
    ]
    name = Path(cfg.data).name if cfg.data else "generated road scenes"
    return write_explore(out, f"shinsou explore · segmentation data from {name}", summary, sections)
