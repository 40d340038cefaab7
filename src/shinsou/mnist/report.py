"""The MNIST run report: learning curves, test metrics per class, confusion matrix, and the misclassified
test digits with true and predicted labels (the engine adds the resolved config)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from shinsou.engine.report import Section, figure_path, image_grid, per_class_table, plot_confusion, plot_curves
from shinsou.mnist.data import DigitSet
from shinsou.mnist.predictor import predict_proba


def report_sections(run_dir: Path, history: list[dict], test_metrics: dict, model: nn.Module, test_set: DigitSet,
                    class_names: list[str], max_errors: int = 40) -> list[Section]:
    curves = plot_curves(history, figure_path(run_dir, "curves.png"), ("loss", "accuracy"))
    confusion = plot_confusion(test_metrics["confusion_matrix"], class_names, figure_path(run_dir, "confusion.png"))
    probs = predict_proba(model, test_set.images)
    predicted = probs.argmax(1)
    wrong_all = np.flatnonzero(predicted != test_set.labels)
    wrong = wrong_all[:max_errors]
    errors = image_grid([test_set.images[i] for i in wrong],
                        [f"true {class_names[test_set.labels[i]]}\npred {class_names[predicted[i]]} ({probs[i].max():.2f})" for i in wrong],
                        figure_path(run_dir, "misclassified.png"), cols=10)
    summary = {"test accuracy": test_metrics["accuracy"], "test images": test_metrics["n"],
               "test source": test_metrics.get("source", ""), "epochs": len(history),
               "training time (s)": round(sum(h.get("seconds", 0) for h in history), 1)}
    return [
        Section("Summary", tables=[summary]),
        Section("Learning curves", figures=[curves]),
        Section("Test set, per class", tables=[per_class_table(test_metrics, class_names)], figures=[confusion]),
        Section(f"Misclassified test images ({len(wrong_all)} in all, first {len(wrong)} shown)", figures=[errors]),
    ]
