"""What a trained CNN sees for one input: its first layer's filters, the feature map after every conv and pool
layer (one panel per channel), and Grad-CAM (Selvaraju et al. 2017) on the last conv layer, all taken with hooks."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from shinsou.errors import ConfigError  # noqa: E402
from shinsou.engine.report import save_figure  # noqa: E402

POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d, nn.LPPool2d)


# --------------------------------------------------------------------------------------------- reading the input
def read_input(predictor, image: str | os.PathLike, index: int = 0, invert: bool = False):
    """The run's own preprocessing, as `shinsou predict` applies it: its Predictor's `explain_input`."""
    reader = getattr(predictor, "explain_input", None)
    if reader is None or not isinstance(getattr(predictor, "model", None), nn.Module):
        pipeline = predictor.config.get("pipeline", "?")
        raise ConfigError(f"explain features: runs of pipeline {pipeline!r} have no image network to explain")
    return reader(image, index=index, invert=invert)


# ------------------------------------------------------------------------------------------------- hooks, Grad-CAM
@dataclass
class Captured:
    name: str
    type: str
    output: torch.Tensor  # (1, C, h, w), still in the autograd graph (an in-place ReLU after it rectifies it)
    values: torch.Tensor  # (1, C, h, w), a copy taken as the layer returned it, for the pictures


def forward_with_maps(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[Captured]]:
    """Run the model with gradients on, keeping the output of every Conv2d and 2-D pooling layer in call order."""
    names = {m: n for n, m in model.named_modules()}
    captured: list[Captured] = []

    def hook(module, args, output):
        out = output[0] if isinstance(output, (tuple, list)) else output  # max pooling with indices
        if isinstance(out, torch.Tensor) and out.dim() == 4:
            captured.append(Captured(names[module], type(module).__name__, out, out.detach().clone()))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, *POOLS))]
    try:
        with torch.enable_grad():
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != 1:
        shape = list(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ConfigError(f"explain features needs a classifier giving (1, classes) scores; this model gives {shape}")
    return logits, captured


def grad_cam(logits: torch.Tensor, activation: torch.Tensor, target: int, size: tuple[int, int]) -> np.ndarray:
    """Grad-CAM: weight each channel of the layer's output by the mean gradient of the class score over it,
    sum, ReLU, upsample to the input. Returns (H, W) in [0, 1] (all 0 when nothing supports the class).
    `activation` is the tensor the conv returned; where an in-place ReLU follows, that is the rectified map."""
    grads = torch.autograd.grad(logits[0, target], activation, retain_graph=True)[0]  # (1, K, h, w)
    weights = grads.mean(dim=(2, 3), keepdim=True)  # (1, K, 1, 1): alpha_k
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True))  # (1, 1, h, w)
    cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)[0, 0]  # (H, W)
    peak = cam.max()
    return (cam / peak if peak > 0 else cam).detach().numpy()


# -------------------------------------------------------------------------------------------------------- figures
def channel_grid(panels: np.ndarray, path: Path, title: str, cmap: str = "viridis", symmetric: bool = False) -> int:
    """(N, h, w) or (N, h, w, 3) -> one PNG with one numbered panel per channel; returns the number of panels.
    Each panel gets its own colour scale (symmetric around 0 for filters). Drawn as one tiled image, which is
    many times faster than one matplotlib axis per channel."""
    n, h, w = panels.shape[:3]
    cols = min(n, 10 if n <= 60 else 16)
    rows = math.ceil(n / cols)
    band, gap = max(1, math.ceil(0.3 * h)), max(1, math.ceil(0.12 * w))  # room for the number, space between
    rgb = panels.ndim == 4
    canvas = np.full((rows * (band + h), cols * (w + gap) - gap) + ((3,) if rgb else ()), 1.0 if rgb else np.nan)
    for i, panel in enumerate(panels):
        panel = panel.astype(np.float64)
        if not rgb:  # scale each channel on its own: to [-1, 1] around 0, or to [0, 1]
            if symmetric:
                panel = panel / (np.abs(panel).max() or 1.0)
            else:
                low, high = panel.min(), panel.max()
                panel = (panel - low) / (high - low) if high > low else np.full_like(panel, 0.5)
        top, left = (i // cols) * (band + h) + band, (i % cols) * (w + gap)
        canvas[top:top + h, left:left + w] = panel
    scale = 0.9 / max(h, w)  # inches per pixel: about 0.9 inch per panel
    fig, ax = plt.subplots(figsize=(max(3.0, canvas.shape[1] * scale), canvas.shape[0] * scale + 0.5))
    colours = plt.get_cmap(cmap).with_extremes(bad="white")
    ax.imshow(canvas, cmap=None if rgb else colours, vmin=-1 if symmetric else 0, vmax=1, interpolation="nearest")
    for i in range(n):
        ax.text((i % cols) * (w + gap) + w / 2 - 0.5, (i // cols) * (band + h) + band - 0.7, str(i),
                ha="center", va="bottom", fontsize=7)
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    save_figure(fig, path)
    return n


def display_image(x: torch.Tensor) -> tuple[np.ndarray, str | None]:
    """The model's input (1, C, H, W) as a picture: grey for one channel, RGB rescaled to [0, 1] for three."""
    image = x[0].detach().numpy()  # (C, H, W)
    if image.shape[0] == 3:
        rgb = image.transpose(1, 2, 0)  # (H, W, 3)
        low, high = rgb.min(), rgb.max()
        return (rgb - low) / (high - low if high > low else 1.0), None
    return image[0], "gray"


def filter_panels(weight: torch.Tensor) -> tuple[np.ndarray, str]:
    """Conv weight (Cout, Cin, kh, kw) -> Cout pictures: the kernel itself (Cin 1), RGB (Cin 3), else the mean over Cin."""
    w = weight.detach().numpy()
    if w.shape[1] == 1:
        return w[:, 0], "red positive, blue negative weights"
    if w.shape[1] == 3:
        rgb = w.transpose(0, 2, 3, 1)  # (Cout, kh, kw, 3)
        low = rgb.min(axis=(1, 2, 3), keepdims=True)
        span = rgb.max(axis=(1, 2, 3), keepdims=True) - low
        return (rgb - low) / np.where(span > 0, span, 1.0), "RGB, each rescaled"
    return w.mean(axis=1), f"mean over {w.shape[1]} input channels"


def overlay_figure(picture: np.ndarray, cmap: str | None, cam: np.ndarray, path: Path, title: str) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.6))
    for ax in axes:
        ax.imshow(picture, cmap=cmap, interpolation="nearest")
        ax.axis("off")
    axes[0].set_title("input", fontsize=9)
    axes[1].imshow(cam, cmap="jet", alpha=0.45, vmin=0, vmax=1, interpolation="bilinear")
    axes[1].set_title("Grad-CAM", fontsize=9)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "input"


# ------------------------------------------------------------------------------------------------------ the verb
def explain_features(run_dir: str | os.PathLike, image: str | os.PathLike, out: str | os.PathLike | None = None,
                     index: int = 0, invert: bool = False, target: str | None = None,
                     max_channels: int | None = None) -> dict[str, Any]:
    """Write filters, feature maps and a Grad-CAM overlay for one input of a trained run; returns what was written."""
    from shinsou.api import load

    predictor = load(run_dir)
    model, config = predictor.model, predictor.config
    x, name = read_input(predictor, image, index=index, invert=invert)  # (1, C, H, W)
    logits, captured = forward_with_maps(model, x)
    convs = [c for c in captured if c.type == "Conv2d"]
    if not convs:
        raise ConfigError(f"{run_dir}: the model has no Conv2d layer to explain")
    class_names = [str(c) for c in config.get("class_names") or range(logits.shape[1])]
    if len(class_names) != logits.shape[1]:
        class_names = [str(i) for i in range(logits.shape[1])]
    probs = torch.softmax(logits.detach(), 1)[0]  # (K,)
    predicted = int(probs.argmax())
    if target is None:
        target_index = predicted
    elif target in class_names:
        target_index = class_names.index(target)
    else:
        raise ConfigError(f"--target {target!r}: not a class of this run (classes: {', '.join(class_names)})")

    out_dir = Path(out) if out else Path(run_dir) / "explain" / _slug(Path(name).name)
    out_dir.mkdir(parents=True, exist_ok=True)

    # Grad-CAM on the last conv layer that ran
    last = convs[-1]
    cam = grad_cam(logits, last.output, target_index, tuple(x.shape[-2:]))
    picture, cmap = display_image(x)
    title = f"predicted {class_names[predicted]} (p={float(probs[predicted]):.3f})"
    if target_index != predicted:
        title += f"; Grad-CAM for {class_names[target_index]} (p={float(probs[target_index]):.3f})"
    gradcam_file = out_dir / "gradcam.png"
    overlay_figure(picture, cmap, cam, gradcam_file, f"{title}\nGrad-CAM on {last.name}")

    # the first conv layer's filters
    first = dict(model.named_modules())[convs[0].name]
    panels, how = filter_panels(first.weight)
    filters_file = out_dir / f"filters_{_slug(convs[0].name)}.png"
    n_filters = channel_grid(panels, filters_file, f"{convs[0].name}: {len(panels)} filters "
                             f"{first.kernel_size[0]}x{first.kernel_size[1]} ({how})", cmap="seismic", symmetric=True)

    # one picture per conv/pool layer, one panel per channel
    layers = []
    for i, layer in enumerate(captured, 1):
        maps = layer.values[0].numpy()  # (C, h, w)
        channels = maps.shape[0]
        shown = maps[:max_channels] if max_channels else maps
        path = out_dir / f"maps_{i:02d}_{_slug(layer.name)}.png"
        note = f" (first {len(shown)})" if len(shown) < channels else ""
        drawn = channel_grid(shown, path, f"{layer.name} ({layer.type}): {channels}x{maps.shape[1]}x{maps.shape[2]}"
                             f"{note} for {Path(name).name}; {title}")
        layers.append({"layer": layer.name, "type": layer.type, "shape": list(layer.output.shape),
                       "channels": channels, "panels": drawn, "file": str(path)})

    order = torch.argsort(probs, descending=True)[:3].tolist()
    return {
        "run_dir": str(run_dir), "input": name, "out": str(out_dir),
        "class": class_names[predicted], "index": predicted, "probability": float(probs[predicted]),
        "top": [{"class": class_names[i], "probability": float(probs[i])} for i in order],
        "gradcam": {"layer": last.name, "target": class_names[target_index], "file": str(gradcam_file)},
        "filters": {"layer": convs[0].name, "count": n_filters, "shape": list(first.weight.shape),
                    "file": str(filters_file)},
        "feature_maps": layers,
    }

