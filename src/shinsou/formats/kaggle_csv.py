"""The Kaggle "Digit Recognizer" CSV: header `label,pixel0,...,pixel783` (train) or `pixel0,...` (test).
One row per image, row-major 28x28 pixels, integers 0..255 (kaggle.com/c/digit-recognizer/data)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from shinsou.errors import DataError
from shinsou.formats.text import read_text


def read_kaggle_csv(path: str | os.PathLike, side: int = 28) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (images (N, side, side) uint8, labels (N,) int64 or None when the file has no label column)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    lines = read_text(path).splitlines()
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise DataError(f"{path}: empty file")
    header = [h.strip() for h in lines[0].split(",")]
    n_pixels = side * side
    pixel_names = [f"pixel{i}" for i in range(n_pixels)]
    if header == ["label", *pixel_names]:
        has_label = True
    elif header == pixel_names:
        has_label = False
    else:
        raise DataError(
            f"{path}: header must be 'label,pixel0,...,pixel{n_pixels - 1}' or 'pixel0,...,pixel{n_pixels - 1}' "
            f"({len(header)} columns starting {','.join(header[:3])})"
        )
    if len(lines) == 1:
        raise DataError(f"{path}: header only, no rows")
    width = len(header)
    for row_number, line in enumerate(lines[1:], start=2):  # counted as a text editor counts lines
        if line.count(",") != width - 1:
            raise DataError(f"{path}: line {row_number} has {line.count(',') + 1} columns, expected {width}")
    frame = pd.read_csv(path, keep_default_na=False, skip_blank_lines=True)
    first_pixel = int(has_label)
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_integer_dtype(values):
            text = pd.read_csv(path, usecols=[column], dtype=str, keep_default_na=False)[column].str.strip()
            row = int(np.flatnonzero(~text.str.fullmatch(r"\d+").to_numpy())[0])
            raise DataError(f"{path}: line {row + 2}, column {column}: {text.iloc[row]!r} is not an integer in 0..255")
    numbers = frame.to_numpy(dtype=np.int64)
    pixels = numbers[:, first_pixel:]
    out_of_range = (pixels < 0) | (pixels > 255)
    if out_of_range.any():
        r, c = np.argwhere(out_of_range)[0]
        raise DataError(f"{path}: line {r + 2}, column {header[c + first_pixel]}: {pixels[r, c]} is not an integer in 0..255")
    images = pixels.astype(np.uint8).reshape(-1, side, side)
    labels = numbers[:, 0] if has_label else None
    return images, labels


def write_kaggle_csv(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray | None = None) -> Path:
    """Write images (N, 28, 28) uint8 and optional labels in the Kaggle layout."""
    path = Path(path)
    flat = np.asarray(images, dtype=np.uint8).reshape(len(images), -1)
    columns = [f"pixel{i}" for i in range(flat.shape[1])]
    frame = pd.DataFrame(flat, columns=columns)
    if labels is not None:
        frame.insert(0, "label", np.asarray(labels, dtype=np.int64))
    frame.to_csv(path, index=False)
    return path
