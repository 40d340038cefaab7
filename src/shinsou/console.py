"""The terminal: results on stdout (rich), progress and errors on stderr, JSON without NaN.
One place so that every command prints alike."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def clean_for_json(value: Any) -> Any:
    """NaN/inf -> None (JSON has no NaN); numpy scalars and arrays -> Python values."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): clean_for_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_for_json(v) for v in value]
    if hasattr(value, "tolist"):
        return clean_for_json(value.tolist())
    return value


def print_json(value: Any) -> None:
    print(json.dumps(clean_for_json(value)))
