"""scikit-learn's 8x8 digits, split 60/20/20 by seed; pixels 0..16 scaled to 0..1; shared by train and predictor."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

CLASS_NAMES = [str(i) for i in range(10)]


def splits(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    digits = load_digits()
    x, y = digits.images.astype(np.float32) / 16.0, digits.target.astype(np.int64)  # (N, 8, 8), (N,)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_train, y_train, test_size=0.25, random_state=seed, stratify=y_train)
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).reshape(len(images), 64)  # (N, 64)


def build_model(hidden: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
