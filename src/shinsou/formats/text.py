"""Text files as shinsou reads them: UTF-8 (a BOM allowed), and one clear line naming the file and the first
byte that is not UTF-8 otherwise, instead of a decoding traceback or silently replaced characters."""

from __future__ import annotations

import os
from pathlib import Path

from shinsou.errors import DataError


def read_text(path: str | os.PathLike) -> str:
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise DataError(f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} on line {line}); "
                        f"save it as UTF-8") from None
