"""Class palettes: class index <-> RGB colour for label maps. Built in: the 11-class CamVid palette of the
SegNet tutorial (SegNet-Tutorial/Scripts, Void = black = index 11); any other class set from a classes.json."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shinsou.errors import DataError

RGB = tuple[int, int, int]

# CamVid, 11 classes as SegNet trains on them (Brostow et al. 2009; colours of the SegNet tutorial)
CAMVID_CLASSES: dict[str, RGB] = {
    "Sky": (128, 128, 128),
    "Building": (128, 0, 0),
    "Pole": (192, 192, 128),
    "Road": (128, 64, 128),
    "Pavement": (60, 40, 222),
    "Tree": (128, 128, 0),
    "SignSymbol": (192, 128, 128),
    "Fence": (64, 64, 128),
    "Car": (64, 0, 128),
    "Pedestrian": (64, 64, 0),
    "Bicyclist": (0, 128, 192),
}
VOID_NAME, VOID_COLOUR = "Void", (0, 0, 0)
INDEX_VOID = 255  # also accepted as Void in index masks (a common "ignore" value)
CLASSES_JSON = "classes.json"
MAX_CLASSES = 254  # masks are held as uint8 with Void = num_classes


@dataclass(frozen=True)
class Palette:
    """Class names and colours; index `num_classes` is Void (ignored in training and metrics)."""

    names: tuple[str, ...]
    colours: tuple[RGB, ...]
    void_colour: RGB | None = VOID_COLOUR  # None: no colour means Void, every colour must be a class
    source: str = "CamVid 11 classes + Void"

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def void_index(self) -> int:
        return len(self.names)

    def colour_table(self) -> np.ndarray:
        """(K + 1, 3) uint8: class colours, then Void's (black when the palette has none)."""
        return np.array([*self.colours, self.void_colour or VOID_COLOUR], dtype=np.uint8)

    def decode(self, index_mask: np.ndarray) -> np.ndarray:
        """(H, W) class indices (Void = K or 255) -> (H, W, 3) uint8 colours."""
        index = np.asarray(index_mask).astype(np.int64)
        index = np.where((index < 0) | (index > self.void_index), self.void_index, index)
        return self.colour_table()[index]

    def encode(self, rgb: np.ndarray, source: str | os.PathLike = "mask") -> np.ndarray:
        """(H, W, 3) uint8 colours -> (H, W) uint8 indices; a colour outside the palette names itself, its pixel and file."""
        rgb = np.asarray(rgb)[..., :3].astype(np.int64)
        codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]  # (H, W) one int per colour
        table = self.colour_table().astype(np.int64)
        known = (table[:, 0] << 16) | (table[:, 1] << 8) | table[:, 2]  # (K + 1,)
        if self.void_colour is None:
            known = known[:-1]
        order = np.argsort(known)
        position = np.searchsorted(known[order], codes).clip(max=len(known) - 1)
        found = known[order][position] == codes
        if not found.all():
            y, x = (int(v) for v in np.argwhere(~found)[0])
            colour = tuple(int(c) for c in rgb[y, x])
            raise DataError(f"{source}: colour {colour} at pixel (x={x}, y={y}) is not in the palette ({self.source}; "
                            f"other class sets need a {CLASSES_JSON})")
        return order[position].astype(np.uint8)

    def check_indices(self, index_mask: np.ndarray, source: str | os.PathLike = "mask") -> np.ndarray:
        """(H, W) integer mask -> uint8 with Void as `void_index`; an index beyond the class list is an error."""
        index = np.asarray(index_mask).astype(np.int64)
        bad = (index < 0) | ((index > self.void_index) & (index != INDEX_VOID))
        if bad.any():
            y, x = (int(v) for v in np.argwhere(bad)[0])
            raise DataError(f"{source}: class index {int(index[y, x])} at pixel (x={x}, y={y}) is beyond the class list "
                            f"(0..{self.num_classes - 1} are classes, {self.void_index} and {INDEX_VOID} are Void)")
        return np.where(index == INDEX_VOID, self.void_index, index).astype(np.uint8)

    def to_config(self) -> dict:
        """What a run's config.yaml keeps so that a run rebuilds its palette without the data folder."""
        return {"class_names": list(self.names), "class_colours": [list(c) for c in self.colours],
                "void_colour": list(self.void_colour) if self.void_colour else None, "palette_source": self.source}

    @classmethod
    def from_config(cls, config: dict) -> "Palette":
        if not config.get("class_colours"):
            return CAMVID
        void = config.get("void_colour")
        return cls(tuple(config["class_names"]), tuple(tuple(c) for c in config["class_colours"]),
                   tuple(void) if void else None, config.get("palette_source", "run palette"))


CAMVID = Palette(tuple(CAMVID_CLASSES), tuple(CAMVID_CLASSES.values()))


def parse_colour(value, source, name: str) -> RGB:
    """[r, g, b] or "#rrggbb" -> (r, g, b)."""
    if isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))
    if (isinstance(value, (list, tuple)) and len(value) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)):
        return tuple(value)
    raise DataError(f"{source}: colour of {name!r} must be [r, g, b] with 0..255 or '#rrggbb', got {json.dumps(value)}")


def read_classes_json(path: str | os.PathLike) -> Palette:
    """classes.json: {"Road": [128, 64, 128], "Car": "#400080", ..., "Void": [0, 0, 0]} in class order;
    a key named Void (any case) is the ignored label, not a class."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot be read ({e.__class__.__name__})") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not data:
        raise DataError(f"{path}: expected an object of class name -> colour, e.g. {{\"Road\": [128, 64, 128]}}")
    names, colours, void = [], [], None
    for name, value in data.items():
        colour = parse_colour(value, path, name)
        if name.lower() == VOID_NAME.lower():
            void = colour
            continue
        if colour in colours:
            raise DataError(f"{path}: colour {colour} is given to two classes ({name!r} and another)")
        names.append(name)
        colours.append(colour)
    if void in colours:
        raise DataError(f"{path}: the Void colour {void} is also a class colour")
    if not names:
        raise DataError(f"{path}: no classes besides Void")
    if len(names) > MAX_CLASSES:
        raise DataError(f"{path}: {len(names)} classes; at most {MAX_CLASSES} are supported")
    return Palette(tuple(names), tuple(colours), void, f"{path.name}: {len(names)} classes" + (" + Void" if void else ""))


def palette_for(folder: str | os.PathLike) -> Palette:
    """The folder's classes.json if it has one, else the CamVid palette."""
    path = Path(folder) / CLASSES_JSON
    return read_classes_json(path) if path.exists() else CAMVID


def write_classes_json(palette: Palette, path: str | os.PathLike) -> Path:
    data = {name: list(colour) for name, colour in zip(palette.names, palette.colours)}
    if palette.void_colour is not None:
        data[VOID_NAME] = list(palette.void_colour)
    Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return Path(path)
