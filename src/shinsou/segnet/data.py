"""Reading segmentation data: the CamVid layout as the SegNet tutorial ships it (train/ trainannot/ val/ valannot/
test/ testannot/, matching names) or an images/ + labels/ pair; masks as class-index PNGs or RGB colour PNGs."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.images import open_image
from shinsou.errors import ConfigError, DataError
from shinsou.segnet.palette import Palette, palette_for

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")  # lossless only: a JPEG mask has colours between classes
CAMVID_SPLITS = (("train", "trainannot"), ("val", "valannot"), ("test", "testannot"))
INDEX_MODES = ("L", "P", "I", "I;16", "LA")  # one channel: class indices; RGB / RGBA: colours


@dataclass
class SegmentationSet:
    images: np.ndarray  # (N, H, W, 3) uint8
    masks: np.ndarray  # (N, H, W) uint8 class indices, Void = palette.void_index
    files: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class SegmentationData:
    train: SegmentationSet
    val: SegmentationSet
    test: SegmentationSet | None  # None when the source has no test split (then val stands in)
    palette: Palette
    layout: str  # "camvid" or "images+labels"


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'96x128' -> (96, 128): height x width, as the SegNet paper writes 360x480."""
    if text is None:
        return None
    parts = str(text).lower().replace(" ", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"size must be HEIGHTxWIDTH such as 96x128, got {text!r}")
    return int(parts[0]), int(parts[1])


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Any PIL-readable image -> (H, W, 3) uint8 RGB."""
    with open_image(Path(path)) as image:
        return np.asarray(image.convert("RGB"))


def read_mask(path: str | os.PathLike, palette: Palette) -> np.ndarray:
    """A label PNG -> (H, W) uint8 class indices: one-channel files hold indices, RGB files colours of `palette`."""
    path = Path(path)
    with open_image(path) as image:
        if image.mode in INDEX_MODES:
            values = np.asarray(image if image.mode != "LA" else image.getchannel(0))
            return palette.check_indices(values, path)
        if image.mode in ("RGB", "RGBA"):
            return palette.encode(np.asarray(image), path)
        raise DataError(f"{path}: a {image.mode} image cannot be a mask (expected class indices in one channel or RGB colours)")


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 -> (h, w, 3), bilinear."""
    if image.shape[:2] == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.BILINEAR))


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 -> (h, w), nearest neighbour only: a mask never gets labels between classes."""
    if mask.shape[:2] == tuple(size):
        return mask
    return np.asarray(Image.fromarray(mask).resize((size[1], size[0]), Image.NEAREST))


def _files(folder: Path, suffixes) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in suffixes}


def find_pairs(image_dir: Path, mask_dir: Path) -> list[tuple[Path, Path]]:
    """(image, mask) by matching names; CamVid's original `NAME_L.png` masks are found too."""
    images, masks = _files(image_dir, IMAGE_SUFFIXES), _files(mask_dir, MASK_SUFFIXES)
    if not images:
        raise DataError(f"{image_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    pairs = []
    for stem, image in images.items():
        mask = masks.get(stem) or masks.get(stem + "_L")
        if mask is None:
            raise DataError(f"{image}: no mask for this image (expected {mask_dir / (stem + '.png')})")
        pairs.append((image, mask))
    return pairs


def read_pair(image_path: Path, mask_path: Path, palette: Palette) -> tuple[np.ndarray, np.ndarray]:
    image, mask = read_image(image_path), read_mask(mask_path, palette)
    if image.shape[:2] != mask.shape:
        raise DataError(f"{mask_path}: mask is {mask.shape[0]}x{mask.shape[1]} but its image {image_path} is "
                        f"{image.shape[0]}x{image.shape[1]} (HxW)")
    return image, mask


def load_pairs(pairs: list[tuple[Path, Path]], palette: Palette, size: tuple[int, int] | None, source: str) -> SegmentationSet:
    """Read every pair, resizing to `size` (image bilinear, mask nearest); None keeps the first image's size."""
    images, masks = [], []
    for image_path, mask_path in tqdm(pairs, desc=f"reading {source}", leave=False, file=sys.stderr,
                                      disable=len(pairs) < 100 or None):
        image, mask = read_pair(image_path, mask_path, palette)
        size = size or image.shape[:2]
        images.append(resize_image(image, size))
        masks.append(resize_mask(mask, size))
    return SegmentationSet(np.stack(images), np.stack(masks), [str(p[0]) for p in pairs], source)


def subset(data: SegmentationSet, index: np.ndarray, source: str) -> SegmentationSet:
    return SegmentationSet(data.images[index], data.masks[index], [data.files[i] for i in index], source)


def holdout(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out): a seeded `fraction` of n, at least one of each."""
    order = np.random.default_rng(seed).permutation(n)
    held = min(max(1, int(round(fraction * n))), n - 1)
    return np.sort(order[held:]), np.sort(order[:held])


def load_segmentation_data(path: str | os.PathLike, size: tuple[int, int] | None = None, seed: int = 0,
                           splits: tuple[str, ...] = ("train", "val", "test")) -> SegmentationData:
    """A CamVid-layout folder or an images/ + labels/ folder (split 70/15/15 by `seed`); its classes.json or CamVid."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such folder")
    if not path.is_dir():
        raise DataError(f"{path}: expected a folder (train/ + trainannot/ as CamVid ships it, or images/ + labels/)")
    palette = palette_for(path)
    if (path / "train").is_dir() and (path / "trainannot").is_dir():
        found = {}
        for split, annot in CAMVID_SPLITS:
            if split in splits and (path / split).is_dir():
                if not (path / annot).is_dir():
                    raise DataError(f"{path / split}: no {annot}/ folder beside it with the masks")
                pairs = find_pairs(path / split, path / annot)
                found[split] = load_pairs(pairs, palette, size, f"{path.name}/{split}")
                size = size or found[split].images.shape[1:3]
        train = found.get("train")
        val = found.get("val")
        if val is None and train is not None:
            kept, held = holdout(len(train), 0.1, seed)
            train, val = subset(train, kept, train.source), subset(train, held, train.source + " (held-out 10%)")
        return SegmentationData(train, val, found.get("test"), palette, "camvid")
    if (path / "images").is_dir() and (path / "labels").is_dir():
        everything = load_pairs(find_pairs(path / "images", path / "labels"), palette, size, path.name)
        if len(everything) < 3:
            raise DataError(f"{path}: {len(everything)} image/label pair(s); at least 3 are needed for train, val and test")
        rest, test = holdout(len(everything), 0.15, seed)
        train, val = holdout(len(rest), 0.15 / 0.85, seed + 1)
        return SegmentationData(subset(everything, rest[train], f"{path.name} (train)"),
                                subset(everything, rest[val], f"{path.name} (val 15%)"),
                                subset(everything, test, f"{path.name} (test 15%)"), palette, "images+labels")
    raise DataError(f"{path}: not a segmentation folder (expected train/ + trainannot/ as CamVid ships it, or images/ + labels/)")


def load_folder_pair(images: str | os.PathLike, labels: str | os.PathLike, palette: Palette,
                     size: tuple[int, int] | None) -> SegmentationSet:
    """`--images DIR --labels DIR`: every image of DIR with its mask."""
    images, labels = Path(images), Path(labels)
    for folder in (images, labels):
        if not folder.is_dir():
            raise DataError(f"{folder}: no such folder")
    return load_pairs(find_pairs(images, labels), palette, size, images.name)


def class_frequencies(masks: np.ndarray, num_classes: int) -> np.ndarray:
    """(N, H, W) masks -> (K,) pixel counts per class (Void and anything >= K left out)."""
    counts = np.bincount(masks.reshape(-1), minlength=num_classes + 1)
    return counts[:num_classes]


def median_frequency_weights(masks: np.ndarray, num_classes: int) -> np.ndarray:
    """SegNet's class balancing (Eigen & Fergus 2015): weight_c = median(freq) / freq_c, where freq_c is
    class c's pixels divided by the pixels of the images in which c appears. Absent classes get weight 1."""
    pixels = np.zeros(num_classes)
    image_pixels = np.zeros(num_classes)
    per_image = masks.reshape(len(masks), -1)
    for row in per_image:
        counts = np.bincount(row, minlength=num_classes + 1)[:num_classes]
        pixels += counts
        image_pixels += (counts > 0) * row.size
    present = pixels > 0
    freq = np.where(present, pixels / np.maximum(image_pixels, 1), 0.0)
    weights = np.ones(num_classes)
    if present.any():
        weights[present] = np.median(freq[present]) / freq[present]
    return weights


class PairedBatches:
    """Shuffled (image, mask) batches with a paired transform: InMemoryBatches decides order and DDP
    sharding; `transform(images, masks, generator)` gets both, so crop, flip and scale match."""

    def __init__(self, data: SegmentationSet, batch_size: int, transform, shuffle: bool = False, seed: int = 0):
        images = torch.from_numpy(np.ascontiguousarray(data.images))  # (N, H, W, 3) uint8
        masks = torch.from_numpy(np.ascontiguousarray(data.masks))  # (N, H, W) uint8
        self.inner = InMemoryBatches(images, masks, batch_size, shuffle=shuffle, seed=seed)
        self.transform, self.seed = transform, seed

    def set_epoch(self, epoch: int) -> None:
        self.inner.set_epoch(epoch)

    def shard(self, rank: int, world_size: int) -> "PairedBatches":
        self.inner.shard(rank, world_size)
        return self

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.inner.epoch + 7919 * (self.inner.rank + 1))
        for images, masks in self.inner:
            yield self.transform(images, masks, generator)
