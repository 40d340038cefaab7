"""What every data report (`shinsou explore`) shares: counts and balance tables, exact duplicates across
splits by content hash, a summary dict, and RUN/explore.html written like a training report."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from shinsou.engine.report import Section, write_report

EXPLORE_FILE = "explore.html"


def content_hashes(items: Iterable[Any]) -> list[str]:
    """One hash per example (array bytes, or the text of a string/row), to find the same example in two splits."""
    out = []
    for item in items:
        data = np.ascontiguousarray(item).tobytes() if isinstance(item, np.ndarray) else str(item).encode()
        out.append(hashlib.blake2b(data, digest_size=12).hexdigest())
    return out


def duplicates_across(first: Sequence[str], second: Sequence[str]) -> int:
    """How many examples of `second` also occur (exactly) in `first`: test items the model may have trained on."""
    seen = set(first)
    return sum(1 for h in second if h in seen)


def duplicates_within(hashes: Sequence[str]) -> int:
    return len(hashes) - len(set(hashes))


def balance_table(labels: np.ndarray, class_names: Sequence[str], splits: dict[str, np.ndarray] | None = None) -> list[list]:
    """Rows: class, then its count (and share) in each split."""
    splits = splits or {"all": labels}
    rows = [["class", *[f"{name} (n, %)" for name in splits]]]
    counts = {name: np.bincount(np.asarray(y, dtype=np.int64), minlength=len(class_names)) for name, y in splits.items()}
    for i, cls in enumerate(class_names):
        rows.append([cls, *[f"{counts[n][i]} ({100 * counts[n][i] / max(counts[n].sum(), 1):.1f}%)" for n in splits]])
    return rows


def write_explore(out: Path, title: str, summary: dict, sections: list[Section]) -> dict:
    """OUT/explore.html with the summary first; returns the summary with the report's path added."""
    path = write_report(out, title, [Section("Summary", tables=[summary]), *sections], name=EXPLORE_FILE)
    return {**summary, "report": str(path)}
