"""Decoding images where they enter shinsou, for every pipeline and the service: paths, bytes, PIL images or
arrays -> a PIL image, with a limit on decoded pixels (decompression bombs) and one clear line for anything else."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from shinsou.errors import DataError

MAX_PIXELS = 50_000_000  # about 7,000 x 7,000: far above any camera image a model here takes, far below a bomb
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def open_image(source: Any, mode: str | None = None, max_pixels: int = MAX_PIXELS, name: str | None = None) -> Image.Image:
    """A path, bytes, file object, PIL image or (H, W[, C]) uint8 array -> a decoded PIL image (converted to
    `mode` if given). Refuses images over `max_pixels` before decoding them."""
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "image")
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, np.ndarray):
        if source.ndim not in (2, 3):
            raise DataError(f"{label}: an image array must be (H, W) or (H, W, C), got shape {source.shape}")
        image = Image.fromarray(np.ascontiguousarray(source))
    else:
        if isinstance(source, (str, os.PathLike)) and not Path(source).exists():
            raise DataError(f"{label}: no such file")
        stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        bomb = f"is over the limit of {max_pixels:,} pixels (a decompression bomb or an image far larger than any model here takes)"
        try:
            with warnings.catch_warnings():  # PIL's own warning is replaced by the check below, before decoding
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(stream)
                width, height = image.size
                if width * height > max_pixels:
                    raise DataError(f"{label}: {width}x{height} {bomb}")
                image.load()
        except DataError:
            raise
        except Image.DecompressionBombError:  # so large that PIL refuses even to read its header
            raise DataError(f"{label}: {bomb}") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
            raise DataError(f"{label}: cannot be read as an image ({e.__class__.__name__})") from None
    if image.width * image.height > max_pixels:
        raise DataError(f"{label}: {image.width}x{image.height} is over the limit of {max_pixels:,} pixels")
    return image.convert(mode) if mode and image.mode != mode else image


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
