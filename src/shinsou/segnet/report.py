"""The SegNet run report: the paper's four measures (global accuracy, class-average accuracy, mean IoU, per-class
IoU), curves, the confusion matrix, and test images with their ground truth, prediction and overlay side by side
(the engine appends the resolved config)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch import nn  # noqa: E402

from shinsou.engine.report import Section, bar_chart, figure_path, plot_confusion, plot_curves  # noqa: E402
from shinsou.segnet.data import SegmentationSet  # noqa: E402
from shinsou.segnet.palette import Palette  # noqa: E402
from shinsou.segnet.predictor import overlay, predict_labels  # noqa: E402


def prediction_grid(images: np.ndarray, truth: np.ndarray, predicted: np.ndarray, palette: Palette, path: Path,
                    title: str = "") -> Path:
    """One row per image: input | ground truth | prediction | overlay, with a legend of the class colours."""
    n = len(images)
    fig, axes = plt.subplots(n, 4, figsize=(4 * 2.4, n * 2.4 * images.shape[1] / images.shape[2] + 0.9), squeeze=False)
    for row, (image, gt, pred) in enumerate(zip(images, truth, predicted)):
        colours = palette.decode(pred)
        for ax, picture, caption in zip(axes[row], (image, palette.decode(gt), colours, overlay(image, colours)),
                                        ("input", "ground truth", "SegNet", "overlay")):
            ax.imshow(picture, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(caption, fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=np.array(c) / 255) for c in palette.colour_table()]
    fig.legend(handles, [*palette.names, "Void"], loc="lower center", ncol=min(6, len(handles)), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06 if n > 2 else 0.12, 1, 1))
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def per_class_table(metrics: dict, palette: Palette, weights=None) -> list[list]:
    per = metrics["per_class"]
    rows = [["class", "IoU", "accuracy (recall)", "precision", "pixels", "loss weight"]]
    for i, name in enumerate(palette.names):
        rows.append([name, per["iou"][i], per["recall"][i], per["precision"][i], per["support"][i],
                     float(weights[i]) if weights is not None else ""])
    return rows


def summary(metrics: dict) -> dict:
    rows = {"global accuracy": metrics["accuracy"], "class-average accuracy": metrics["class_accuracy"],
            "mean IoU": metrics["mean_iou"], "pixels scored (Void left out)": metrics["n"],
            "test source": metrics.get("source", ""),
            "test-time augmentation": "mean of image and mirror image" if metrics.get("tta") == "flip" else "none"}
    if "single_pass" in metrics:
        single = metrics["single_pass"]
        rows["mean IoU, single pass (no mirror)"] = single["mean_iou"]
        rows["global / class-average accuracy, single pass"] = f"{single['accuracy']:.4f} / {single['class_accuracy']:.4f}"
    return rows


def report_sections(run_dir: Path, history: list[dict], test_metrics: dict, model: nn.Module, test_set: SegmentationSet,
                    palette: Palette, tta: bool, parameters: int, class_weights, shown: int = 6) -> list[Section]:
    curves = plot_curves(history, figure_path(run_dir, "curves.png"), ("loss", "accuracy", "mean_iou"))
    confusion = plot_confusion(test_metrics["confusion_matrix"], list(palette.names), figure_path(run_dir, "confusion.png"))
    iou = [0.0 if v != v else v for v in test_metrics["per_class"]["iou"]]  # NaN (class absent) drawn as 0
    bars = bar_chart(iou, list(palette.names), figure_path(run_dir, "per_class_iou.png"), title="test IoU per class",
                     xlabel="IoU")
    images, truth = test_set.images[:shown], test_set.masks[:shown]
    grid = prediction_grid(images, truth, predict_labels(model, images, flip=tta), palette,
                           figure_path(run_dir, "predictions.png"))
    table = {**summary(test_metrics), "epochs": len(history),
             "training time (s)": round(sum(h.get("seconds", 0) for h in history), 1), "parameters": parameters}
    return [
        Section("Summary", text=["Global accuracy counts correct pixels over all pixels; class-average accuracy is the "
                                 "mean of per-class recalls; IoU = TP / (TP + FP + FN) per class, then averaged. All are "
                                 "accumulated over the whole test set, Void pixels left out."], tables=[table]),
        Section("Predictions on test images", figures=[grid]),
        Section("Per class", tables=[per_class_table(test_metrics, palette, class_weights)], figures=[bars, confusion]),
        Section("Learning curves", figures=[curves]),
    ]
