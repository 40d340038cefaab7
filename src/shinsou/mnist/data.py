"""Reading MNIST-family digits: the MNIST distribution's folder of IDX files (MNIST, Fashion-MNIST),
a Kaggle digit CSV, the embedded sample; one-hot labels as the lecture writes them (3 -> [0,0,0,1,0,...])."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from shinsou.errors import DataError
from shinsou.formats.idx import read_idx_images, read_idx_labels
from shinsou.formats.kaggle_csv import read_kaggle_csv

NUM_CLASSES = 10
DIGIT_NAMES = [str(i) for i in range(10)]
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@dataclass
class DigitSet:
    images: np.ndarray  # (N, 28, 28) uint8, white on black
    labels: np.ndarray | None  # (N,) int64 in 0..9, or None for unlabelled data
    source: str


@dataclass
class DigitData:
    train: DigitSet
    test: DigitSet | None  # None when the source has no separate test split
    class_names: list[str]


def embedded_sample_dir() -> Path:
    """The small real MNIST sample shipped inside the package (2,000 train / 500 test digits)."""
    return Path(str(resources.files("shinsou") / "sample_data" / "mnist"))


def one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(N,) class indices -> (N, num_classes) 0/1 rows: 3 -> [0,0,0,1,0,0,0,0,0,0]."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"label {int(labels.max() if labels.max() >= num_classes else labels.min())} is outside the classes 0..{num_classes - 1}")
    encoded = np.zeros((len(labels), num_classes), dtype=np.float32)
    encoded[np.arange(len(labels)), labels] = 1.0
    return encoded


def from_one_hot(encoded: np.ndarray) -> np.ndarray:
    """(N, K) one-hot rows -> (N,) class indices; rows that are not one-hot are an error."""
    encoded = np.asarray(encoded)
    ok = (np.isin(encoded, (0, 1))).all(1) & (encoded.sum(1) == 1)
    if not ok.all():
        raise DataError(f"row {int(np.flatnonzero(~ok)[0])} is not one-hot")
    return encoded.argmax(1)


def _find(folder: Path, split: str, kind: str) -> Path | None:
    """train-images-idx3-ubyte[.gz] and the dotted variant train-images.idx3-ubyte[.gz]."""
    dims = "3" if kind == "images" else "1"
    for stem in (f"{split}-{kind}-idx{dims}-ubyte", f"{split}-{kind}.idx{dims}-ubyte"):
        for name in (stem, stem + ".gz"):
            if (folder / name).exists():
                return folder / name
    return None


def read_idx_pair(images_path: str | os.PathLike, labels_path: str | os.PathLike | None) -> DigitSet:
    images = read_idx_images(images_path)
    labels = None
    if labels_path is not None:
        labels = np.asarray(read_idx_labels(labels_path), dtype=np.int64)
        if len(labels) != len(images):
            raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
        check_labels(labels, labels_path)
    return DigitSet(images, labels, str(images_path))


def check_labels(labels: np.ndarray, source) -> None:
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if len(bad):
        raise DataError(f"{source}: label {int(labels[bad[0]])} at item {int(bad[0])} is outside the classes 0..{NUM_CLASSES - 1}")


def class_names_for(folder: Path) -> list[str]:
    names_file = folder / "classes.txt"
    if names_file.exists():
        names = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
        if len(names) != NUM_CLASSES:
            raise DataError(f"{names_file}: {len(names)} class names, expected {NUM_CLASSES}")
        return names
    return FASHION_NAMES if "fashion" in str(folder.resolve()).lower() else DIGIT_NAMES


def load_digit_data(path: str | os.PathLike | None = None) -> DigitData:
    """An MNIST-layout folder, a Kaggle CSV with labels, or (None) the embedded sample."""
    path = Path(path) if path is not None else embedded_sample_dir()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise DataError(f"{path}: expected an MNIST-layout folder or a Kaggle CSV (.csv)")
        images, labels = read_kaggle_csv(path)
        if labels is None:
            raise DataError(f"{path}: no label column (the header must start with 'label' to train or evaluate on it)")
        check_labels(labels, path)
        return DigitData(DigitSet(images, labels, str(path)), None, DIGIT_NAMES)
    train_images, train_labels = _find(path, "train", "images"), _find(path, "train", "labels")
    if train_images is None or train_labels is None:
        missing = "train-images-idx3-ubyte[.gz]" if train_images is None else "train-labels-idx1-ubyte[.gz]"
        raise DataError(f"{path}: not an MNIST-layout folder (no {missing})")
    train = read_idx_pair(train_images, train_labels)
    test_images, test_labels = _find(path, "t10k", "images"), _find(path, "t10k", "labels")
    test = read_idx_pair(test_images, test_labels) if test_images and test_labels else None
    return DigitData(train, test, class_names_for(path))


def load_labelled_files(images_path, labels_path) -> DigitSet:
    """`--images FILE --labels FILE`: an IDX pair, or a Kaggle CSV (with its label column) as --images."""
    images_path = Path(images_path)
    if images_path.suffix.lower() == ".csv":
        images, labels = read_kaggle_csv(images_path)
        if labels is None:
            raise DataError(f"{images_path}: no label column to evaluate against")
        check_labels(labels, images_path)
        return DigitSet(images, labels, str(images_path))
    if labels_path is None:
        raise DataError(f"{images_path}: --labels FILE is needed with IDX images")
    return read_idx_pair(images_path, labels_path)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out): `fraction` of each class held out, chosen by `seed`."""
    rng = np.random.default_rng(seed)
    held = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        held.append(members[: int(round(fraction * len(members)))])
    held_out = np.sort(np.concatenate(held)) if held else np.array([], dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_out)
    return kept, held_out
