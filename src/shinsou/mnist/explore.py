"""`shinsou explore mnist`: the digits before training, as a Kaggle notebook's data exploration shows them:
counts per split, class balance, a grid of samples per class, pixel statistics, odd images and duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shinsou.engine.explore import balance_table, content_hashes, duplicates_across, duplicates_within, write_explore
from shinsou.engine.report import Section, figure_path, image_grid
from shinsou.mnist.config import Config
from shinsou.mnist.data import load_digit_data
from shinsou.mnist.train import test_split


def explore(cfg: Config, out: Path) -> dict:
    data = load_digit_data(cfg.data)
    test, _ = test_split(cfg.data, cfg.seed)
    train = data.train
    names = data.class_names
    per_class = [np.flatnonzero(train.labels == k)[:8] for k in range(len(names))]
    picks = [i for rows in per_class for i in rows]
    samples = image_grid([train.images[i] for i in picks], [names[train.labels[i]] for i in picks],
                         figure_path(out, "samples.png"), cols=8, title="eight training images per class")
    train_hashes, test_hashes = content_hashes(train.images), content_hashes(test.images)
    ink = (train.images > 0).mean(axis=(1, 2))  # share of lit pixels per image
    blank = int((train.images.max(axis=(1, 2)) == 0).sum())
    summary = {"source": train.source, "train images": len(train.labels), "test images": len(test.labels),
               "test split": test.source, "image size": f"{train.images.shape[1]}x{train.images.shape[2]}",
               "classes": len(names), "smallest class share": round(float(np.bincount(train.labels).min() / len(train.labels)), 4),
               "blank images": blank, "duplicates within train": duplicates_within(train_hashes),
               "test images also in train": duplicates_across(train_hashes, test_hashes),
               "mean pixel": round(float(train.images.mean()), 2), "lit pixels per image (mean share)": round(float(ink.mean()), 4)}
    sections = [
        Section("Class balance", tables=[balance_table(train.labels, names, {"train": train.labels, "test": test.labels})]),
        Section("Samples", figures=[samples]),
    ]
    return write_explore(out, f"shinsou explore · digits from {Path(str(train.source)).name}", summary, sections)
