"""Run reports: matplotlib figures (learning curves, confusion matrix, image grids, bars) saved as
PNG under RUN_DIR/figures and gathered into one self-contained RUN_DIR/report.html."""

from __future__ import annotations

import base64
import html
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

FIGURES = "figures"


@dataclass
class Section:
    """One heading of the report: paragraphs of text, figures (PNG paths) and tables (dicts or rows)."""

    title: str
    text: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    tables: list[Any] = field(default_factory=list)


def figure_path(run_dir: Path, name: str) -> Path:
    folder = Path(run_dir) / FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure as PNG atomically (a temporary file renamed into place) and close it."""
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def plot_curves(history: list[dict], path: Path, metrics: Sequence[str] = ("loss", "accuracy"), title: str = "") -> Path:
    """One panel per metric, train and validation per epoch."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    epochs = [h["epoch"] for h in history]
    for ax, metric in zip(axes[0], metrics):
        for split, style in (("train", "-o"), ("val", "-s")):
            points = [(e, h[f"{split}_{metric}"]) for e, h in zip(epochs, history) if h.get(f"{split}_{metric}") is not None]
            if points:  # epochs without validation (--val-every) are left out, not drawn as gaps
                ax.plot(*zip(*points), style, ms=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_confusion(matrix, class_names: Sequence[str], path: Path, title: str = "confusion matrix") -> Path:
    matrix = np.asarray(matrix)
    k = len(class_names)
    size = max(4.0, 0.45 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    row_sums = matrix.sum(1, keepdims=True).clip(min=1)
    ax.imshow(matrix / row_sums, cmap="Blues", vmin=0, vmax=1)
    if k <= 25:
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if matrix[i, j] / row_sums[i, 0] > 0.5 else "black")
    ax.set_xticks(range(k), class_names, rotation=90 if max(map(len, class_names)) > 2 else 0)
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return save_figure(fig, path)


def image_grid(images: Sequence[np.ndarray], titles: Sequence[str], path: Path, cols: int = 8, cmap: str = "gray",
               title: str = "") -> Path:
    """Images (H, W) or (H, W, 3) in a grid with a caption each."""
    n = max(len(images), 1)
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, titles):
        ax.imshow(image, cmap=cmap if np.asarray(image).ndim == 2 else None)
        ax.set_title(caption, fontsize=8)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def bar_chart(values: Sequence[float], names: Sequence[str], path: Path, title: str = "", xlabel: str = "") -> Path:
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(names) + 1.2))
    ax.barh(range(len(names)), values, color="#4878a8")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def per_class_table(metrics: dict, class_names: Sequence[str]) -> list[list]:
    """Rows for a report table from ConfusionMatrix.compute(): class, precision, recall, F1, support."""
    per = metrics["per_class"]
    rows = [["class", "precision", "recall", "F1", "support"]]
    for i, name in enumerate(class_names):
        rows.append([name, per["precision"][i], per["recall"][i], per["f1"][i], per["support"][i]])
    return rows


def _table_html(table: Any) -> str:
    if isinstance(table, dict):
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in table.items())
        return f"<table>{rows}</table>"
    header, *body = table  # a list of rows, the first being the header
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _image_html(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(Path(path).stem)}"></figure>'


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}img{max-width:100%}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}"""


def write_report(run_dir: Path, title: str, sections: Sequence[Section], name: str = "report.html") -> Path:
    """Write RUN_DIR/report.html (figures embedded, so the file can be sent on its own)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts += [f"<p>{html.escape(t)}</p>" for t in section.text]
        parts += [_table_html(t) for t in section.tables]
        parts += [_image_html(f) for f in section.figures]
    parts.append("</body></html>")
    path = Path(run_dir) / name
    tmp = path.with_name(name + ".tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    os.replace(tmp, path)
    return path
