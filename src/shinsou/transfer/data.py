"""Images for transfer learning: an ImageFolder tree (one folder per class; the EuroSAT RGB layout) split
train/val/test by ratio and seed, or an MNIST-layout IDX folder (grey digits/clothes, replicated to RGB later).
Training holds its splits in memory; evaluation can read a folder split batch by batch (`ImageFiles`)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from shinsou.mnist.data import load_digit_data, stratified_split
from shinsou.errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
SPLITS = ("train", "val", "test")


@dataclass
class ImageSet:
    images: torch.Tensor  # (N, C, h, w) uint8, C = 3 (RGB) or 1 (grey IDX); resized to the model size per batch
    labels: np.ndarray  # (N,) int64
    source: str
    files: list[str] | None = None  # where each image came from (folders), for reports

    def __len__(self) -> int:
        return len(self.labels)

    def batches(self, batch_size: int, log=None) -> Iterator[tuple[torch.Tensor, np.ndarray, list[str]]]:
        """(images (B, C, h, w) uint8, labels (B,), skipped files) in order, as ImageFiles gives them."""
        for start in range(0, len(self.labels), batch_size):
            yield self.images[start:start + batch_size], self.labels[start:start + batch_size], []


@dataclass
class ImageFiles:
    """A folder split decoded one batch at a time when it is evaluated: memory stays flat in the number of images
    (10,000 test photos fitted to 224x224 would otherwise hold 1.5 GB). Corrupt files are skipped as they are met."""

    files: list[str]
    labels: np.ndarray  # (N,) int64
    source: str
    size: int  # as decode_images fits them
    interpolation: str = "bilinear"
    strict: bool = False

    def __len__(self) -> int:
        return len(self.files)

    def batches(self, batch_size: int, log=None) -> Iterator[tuple[torch.Tensor, np.ndarray, list[str]]]:
        """(images (B, 3, h, w) uint8, their labels, the batch's skipped files) in file order."""
        log = log or (lambda line: None)
        for start in range(0, len(self.files), batch_size):
            files = self.files[start:start + batch_size]
            images, ok, skipped = decode_images(files, self.size, self.strict, log, self.interpolation, progress=False)
            yield images, self.labels[start:start + batch_size][ok], skipped


@dataclass
class TransferData:
    splits: dict[str, ImageSet | ImageFiles]  # "train", "val", "test" (those asked for)
    class_names: list[str]
    kind: str  # "folder" or "idx"
    skipped: list[str] = field(default_factory=list)  # corrupt files left out


@dataclass
class SplitPlan:
    """How to cut the data: ratios and seed for folders without a split, K labelled images per class."""

    val_fraction: float = 0.1
    test_fraction: float = 0.2
    seed: int = 0
    per_class: int | None = None  # keep K training images per class
    val_per_class: int | None = None  # keep K validation images per class (default: per_class)

    @classmethod
    def from_config(cls, config: Mapping) -> "SplitPlan":
        """The plan of a run's config (a Config's fields or its config.yaml); --val-per-class defaults to --per-class."""
        per_class, val_per_class = config.get("per_class"), config.get("val_per_class")
        return cls(config.get("val_fraction", 0.1), config.get("test_fraction", 0.2), config.get("seed", 0), per_class,
                   val_per_class if val_per_class is not None else per_class)


# ---------------------------------------------------------------------------------------------- folders
def is_idx_folder(path: Path) -> bool:
    return path.is_dir() and any(path.glob("train-images*idx3-ubyte*"))


def class_folders(root: Path) -> list[Path]:
    """The class folders of an ImageFolder tree; empty ones and single-class trees are errors."""
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(f"{root}: no class folders (expected one folder of images per class, as ImageFolder and EuroSAT lay them out)")
    if len(folders) == 1:
        raise DataError(f"{root}: only one class folder ({folders[0].name!r}); a classifier needs at least two "
                        "(point --data at the folder that holds the class folders)")
    return folders


def list_images(root: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """(files, labels, class names) of an ImageFolder tree, files in sorted order within each class."""
    folders = class_folders(root)
    files, labels = [], []
    for index, folder in enumerate(folders):
        found = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not found:
            raise DataError(f"{folder}: empty class folder (no JPEG/PNG/TIFF images)")
        files += found
        labels += [index] * len(found)
    return files, np.asarray(labels, dtype=np.int64), [f.name for f in folders]


def presplit_root(root: Path) -> bool:
    """A tree that is already split: ROOT/train/<class>/..., ROOT/test/<class>/... (ROOT/val optional)."""
    return (root / "train").is_dir() and (root / "test").is_dir()


def take_per_class(labels: np.ndarray, k: int | None, seed: int, log=None, what: str = "training") -> np.ndarray:
    """Indices of k items per class chosen by `seed` (all of a class that has fewer), in sorted order."""
    if k is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if len(members) < k and log:
            log(f"warning: class {int(cls)} has only {len(members)} {what} images, fewer than {k}")
        chosen.append(rng.choice(members, min(k, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


def plan_folder(root: Path, plan: SplitPlan, log=None) -> tuple[dict[str, tuple[list[str], np.ndarray]], list[str]]:
    """File lists per split: the tree's own train/val/test, or a stratified split by ratio and seed."""
    if presplit_root(root):
        parts = {s: list_images(root / s) for s in SPLITS if (root / s).is_dir()}
        names = parts["train"][2]
        for s, (_, _, other) in parts.items():
            if other != names:
                raise DataError(f"{root / s}: class folders {other} differ from {root / 'train'}'s {names}")
        split = {s: (files, labels) for s, (files, labels, _) in parts.items()}
        if "val" not in split:
            files, labels = split["train"]
            kept, held = stratified_split(labels, plan.val_fraction, plan.seed + 1)
            split["train"] = ([files[i] for i in kept], labels[kept])
            split["val"] = ([files[i] for i in held], labels[held])
    else:
        files, labels, names = list_images(root)
        rest, test = stratified_split(labels, plan.test_fraction, plan.seed)
        train, val = stratified_split(labels[rest], plan.val_fraction, plan.seed + 1)
        train, val = rest[train], rest[val]
        split = {s: ([files[i] for i in idx], labels[idx]) for s, idx in (("train", train), ("val", val), ("test", test))}
    for s, (files, _) in split.items():
        if not files:
            raise DataError(f"{root}: the {s} split is empty (too few images per class for --val-fraction "
                            f"{plan.val_fraction} and --test-fraction {plan.test_fraction})")
    for s, k, offset in (("train", plan.per_class, 2), ("val", plan.val_per_class, 3)):
        files, labels = split[s]
        keep = take_per_class(labels, k, plan.seed + offset, log, s)
        split[s] = ([files[i] for i in keep], labels[keep])
    return split, names


def to_rgb(image: Image.Image) -> np.ndarray:
    """A decoded PIL image -> (H, W, 3) uint8; grey, palette, alpha and 16-bit images are converted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit or float scans: stretch to 0..255
        values = np.asarray(image, dtype=np.float64)
        top = values.max() if values.max() > 0 else 1.0
        image = Image.fromarray((values / top * 255).astype(np.uint8))
    return np.asarray(image.convert("RGB"))


def read_rgb(path: str) -> np.ndarray:
    """(H, W, 3) uint8 from an image file."""
    with Image.open(path) as image:
        image.load()
        return to_rgb(image)


def resample_filter(interpolation: str):
    return Image.BICUBIC if interpolation == "bicubic" else Image.BILINEAR


def fit_square(array: np.ndarray, size: int, resample) -> np.ndarray:
    """Shorter side to `size`, then the centre `size` x `size` crop (images no larger and square stay as they are)."""
    h, w = array.shape[:2]
    if h == w and h <= size:
        return array
    scale = size / min(h, w)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    image = Image.fromarray(array).resize((new_w, new_h), resample)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)))


def decode_images(files: list[str], size: int, strict: bool, log: Callable[[str], None], interpolation: str = "bilinear",
                  desc: str = "reading images", progress: bool = True) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """Decode every file once into memory: (N, 3, h, w) uint8 plus the mask of files that could be read.
    A corrupt file is named and skipped (or, under `strict`, fails the run)."""
    resample = resample_filter(interpolation)
    arrays, ok, skipped = [], np.zeros(len(files), dtype=bool), []
    quiet = not progress or len(files) < 200
    for i, path in enumerate(tqdm(files, desc=desc, leave=False, file=sys.stderr, disable=quiet or None)):
        try:
            array = read_rgb(path)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            if strict:
                raise DataError(f"{path}: corrupt image, cannot be decoded ({e.__class__.__name__}); "
                                "without --strict it would be skipped") from None
            log(f"skipping corrupt image {path} ({e.__class__.__name__})")
            skipped.append(path)
            continue
        arrays.append(fit_square(array, size, resample))
        ok[i] = True
    return stack_images(arrays, size, resample), ok, skipped


def stack_images(arrays: list[np.ndarray], size: int, resample) -> torch.Tensor:
    """(H, W, 3) uint8 arrays fitted by fit_square -> (N, 3, h, w) uint8; mixed small sizes are brought to `size`."""
    if not arrays:
        return torch.zeros((0, 3, size, size), dtype=torch.uint8)
    if len({a.shape for a in arrays}) > 1:  # mixed small sizes: bring all to the model's size
        arrays = [np.asarray(Image.fromarray(a).resize((size, size), resample)) if a.shape[0] != size else a for a in arrays]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()  # (N, H, W, 3) -> (N, 3, H, W)


def load_folder(root: Path, plan: SplitPlan, size: int, splits, strict: bool, log, interpolation: str,
                lazy: bool = False) -> TransferData:
    split, names = plan_folder(root, plan, log)
    out, skipped = {}, []
    for s in splits:
        files, labels = split[s]
        if lazy:  # decoded batch by batch when evaluated
            out[s] = ImageFiles(files, labels, f"{root} ({s})", size, interpolation, strict)
            continue
        images, ok, bad = decode_images(files, size, strict, log, interpolation, desc=f"reading {s} images")
        skipped += bad
        out[s] = ImageSet(images, labels[ok], f"{root} ({s})", [f for f, good in zip(files, ok) if good])
        if len(out[s].labels) == 0:
            raise DataError(f"{root}: no readable images in the {s} split")
    if skipped:
        log(f"skipped {len(skipped)} corrupt image(s) (run with --strict to stop at the first)")
    return TransferData(out, names, "folder", skipped)


# ---------------------------------------------------------------------------------------------- IDX
def load_idx(root: Path, plan: SplitPlan, splits, log) -> TransferData:
    """train-* -> train/val (stratified, seed); t10k-* -> test (or a held-out fraction when there is none)."""
    data = load_digit_data(root)
    images, labels = data.train.images, data.train.labels
    if data.test is None:
        rest, held = stratified_split(labels, plan.test_fraction, plan.seed)
        test = (images[held], labels[held], f"{data.train.source} (held-out {plan.test_fraction:.0%})")
        images, labels = images[rest], labels[rest]
    else:
        test = (data.test.images, data.test.labels, data.test.source)
    train_idx, val_idx = stratified_split(labels, plan.val_fraction, plan.seed + 1)
    train_idx = train_idx[take_per_class(labels[train_idx], plan.per_class, plan.seed + 2, log)]
    val_idx = val_idx[take_per_class(labels[val_idx], plan.val_per_class, plan.seed + 3, log, "validation")]
    parts = {"train": (images[train_idx], labels[train_idx], data.train.source),
             "val": (images[val_idx], labels[val_idx], data.train.source + " (validation)"), "test": test}
    out = {s: ImageSet(torch.from_numpy(np.array(parts[s][0])).unsqueeze(1),  # (N, 28, 28) -> (N, 1, 28, 28), writable
                       np.asarray(parts[s][1], dtype=np.int64), parts[s][2]) for s in splits}
    return TransferData(out, list(data.class_names), "idx")


def load_transfer_data(path: str | os.PathLike, plan: SplitPlan, size: int, splits=SPLITS, strict: bool = False,
                       log=None, interpolation: str = "bilinear", lazy: bool = False) -> TransferData:
    """`--data PATH`: an MNIST-layout IDX folder or an ImageFolder/EuroSAT tree; only `splits` are decoded, and with
    `lazy` a folder's splits are not decoded here at all but batch by batch as they are read (ImageFiles)."""
    log = log or (lambda line: print(line, file=sys.stderr))
    if path is None:
        raise DataError("--data PATH is required: an ImageFolder/EuroSAT folder (one folder per class) or an MNIST-layout IDX folder")
    root = Path(path)
    if not root.exists():
        raise DataError(f"{root}: no such file or folder")
    if not root.is_dir():
        raise DataError(f"{root}: expected a folder (ImageFolder/EuroSAT class folders, or MNIST-layout IDX files)")
    if is_idx_folder(root):
        return load_idx(root, plan, splits, log)
    return load_folder(root, plan, size, splits, strict, log, interpolation, lazy)
