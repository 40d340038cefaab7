"""The MNIST run report: learning curves, test metrics per class, confusion matrix, the misclassified
test digits with true and predicted labels, and the resolved config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from shinsou.cnn.data import DigitSet
from shinsou.cnn.predict import predict_proba
from shinsou.engine.report import per_class_table, Section, figure_path, image_grid, plot_confusion, plot_curves, write_report


def write_mnist_report(run_dir: Path, config: dict, history: list[dict], test_metrics: dict, model: nn.Module,
                       test_set: DigitSet, class_names: list[str], max_errors: int = 40) -> Path:
    curves = plot_curves(history, figure_path(run_dir, "curves.png"), ("loss", "accuracy"))
    confusion = plot_confusion(test_metrics["confusion_matrix"], class_names, figure_path(run_dir, "confusion.png"))
    probs = predict_proba(model, test_set.images)
    predicted = probs.argmax(1)
    wrong = np.flatnonzero(predicted != test_set.labels)[:max_errors]
    errors = image_grid([test_set.images[i] for i in wrong],
                        [f"true {class_names[test_set.labels[i]]}\npred {class_names[predicted[i]]} ({probs[i].max():.2f})" for i in wrong],
                        figure_path(run_dir, "misclassified.png"), cols=10)
    summary = {"test accuracy": test_metrics["accuracy"], "test images": test_metrics["n"],
               "test source": test_metrics.get("source", ""), "epochs": len(history),
               "training time (s)": round(sum(h.get("seconds", 0) for h in history), 1)}
    sections = [
        Section("Summary", tables=[summary]),
        Section("Learning curves", figures=[curves]),
        Section("Test set, per class", tables=[per_class_table(test_metrics, class_names)], figures=[confusion]),
        Section(f"Misclassified test images ({len(np.flatnonzero(predicted != test_set.labels))} in all, first {len(wrong)} shown)",
                figures=[errors]),
        Section("Config", tables=[config]),
    ]
    return write_report(run_dir, f"shinsou · {config['model']} on {Path(str(config.get('data') or 'embedded MNIST sample')).name}", sections)
