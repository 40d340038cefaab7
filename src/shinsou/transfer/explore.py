"""`shinsou explore transfer`: the images split as a run with the same options splits them; counts, class balance,
samples per class, sizes and modes, unreadable files, exact duplicates across splits (file bytes, or IDX pixels)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from shinsou.engine.explore import balance_table, content_hashes, duplicates_across, duplicates_within, write_explore
from shinsou.engine.report import Section, figure_path, image_grid
from shinsou.transfer.config import Config
from shinsou.transfer.data import SPLITS, ImageFiles, ImageSet, SplitPlan, fit_square, load_transfer_data, read_rgb

SHOWN = 8  # training images per class in the sample grid
SIDE = 96  # their side in the grid
UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def file_bytes(files: list[str]) -> Iterator[np.ndarray]:
    for path in files:
        yield np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)


def headers(files: list[str]) -> tuple[Counter, Counter, list[str]]:
    """Sizes and colour modes from the image headers (nothing decoded), and the files PIL cannot identify."""
    sizes, modes, unreadable = Counter(), Counter(), []
    for path in files:
        try:
            with Image.open(path) as image:
                sizes[f"{image.width}x{image.height}"] += 1
                modes[image.mode] += 1
        except UNREADABLE:
            unreadable.append(path)
    return sizes, modes, unreadable


def samples(split: ImageSet | ImageFiles, class_names: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """Up to SHOWN training images per class, as the network's input is cut (fit_square) or as IDX stores them."""
    pictures, titles = [], []
    for k, name in enumerate(class_names):
        for i in np.flatnonzero(split.labels == k)[:SHOWN]:
            if isinstance(split, ImageFiles):
                try:
                    picture = fit_square(read_rgb(split.files[i]), SIDE, Image.BILINEAR)
                except UNREADABLE:
                    continue  # counted among the unreadable files
            else:
                picture = split.images[i, 0].numpy()  # (28, 28) grey
            pictures.append(picture)
            titles.append(name)
    return pictures, titles


def explore(cfg: Config, out: Path) -> dict:
    data = load_transfer_data(cfg.data, SplitPlan.from_config(vars(cfg)), cfg.image_size or 224, log=lambda line: None,
                              lazy=True)  # folders: file lists only, nothing decoded
    splits, names = data.splits, data.class_names
    train, val, test = (splits[s] for s in SPLITS)
    if data.kind == "folder":
        hashes = {s: content_hashes(file_bytes(splits[s].files)) for s in SPLITS}
        sizes, modes, unreadable = headers([f for s in SPLITS for f in splits[s].files])
        looks = {"image sizes": len(sizes), "most common size": sizes.most_common(1)[0][0] if sizes else "",
                 "colour modes": ", ".join(f"{m} {n}" for m, n in modes.most_common()),
                 "unreadable files": len(unreadable)}
    else:
        hashes = {s: content_hashes(splits[s].images.numpy()) for s in SPLITS}
        pixels = train.images.numpy()  # (N, 1, 28, 28)
        unreadable = []
        looks = {"image size": f"{pixels.shape[2]}x{pixels.shape[3]} grey (replicated to RGB)",
                 "blank images": sum(int((splits[s].images.amax(dim=(1, 2, 3)) == 0).sum()) for s in SPLITS),
                 "mean pixel (train)": round(float(pixels.mean()), 2)}
    summary = {"source": str(cfg.data), "kind": data.kind, "classes": len(names),
               **{f"{s} images": len(splits[s].labels) for s in SPLITS},
               "training images": f"{cfg.per_class} per class" if cfg.per_class else "all",
               "smallest class share (train)": round(float(np.bincount(train.labels, minlength=len(names)).min()
                                                           / max(len(train.labels), 1)), 4),
               **looks,
               "duplicates within train": duplicates_within(hashes["train"]),
               "test images also in train": duplicates_across(hashes["train"], hashes["test"]),
               "test images also in validation": duplicates_across(hashes["val"], hashes["test"]),
               "validation images also in train": duplicates_across(hashes["train"], hashes["val"])}
    pictures, titles = samples(train, names)
    grid = image_grid(pictures, titles, figure_path(out, "samples.png"), cols=SHOWN,
                      title=f"up to {SHOWN} training images per class")
    sections = [
        Section("Class balance", tables=[balance_table(train.labels, names, {s: splits[s].labels for s in SPLITS})]),
        Section("Samples", figures=[grid]),
    ]
    if unreadable:
        sections.append(Section(f"Unreadable files ({len(unreadable)})", text=unreadable[:50]))
    return write_explore(out, f"shinsou explore · transfer data from {Path(str(cfg.data)).name}", summary, sections)
