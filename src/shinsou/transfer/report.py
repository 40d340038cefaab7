"""The transfer run report: which layers were frozen, learning curves (stage 1, stage 2, from scratch), test
accuracy beside the from-scratch twin, per-class metrics, confusion matrix and misclassified test images
(the engine adds the resolved config)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from shinsou.engine.report import Section, bar_chart, figure_path, image_grid, per_class_table, plot_confusion, plot_curves
from shinsou.transfer.data import ImageSet
from shinsou.transfer.freeze import freeze_summary
from shinsou.transfer.predictor import predict_proba


def freeze_table(model) -> list[list]:
    rows = [["#", "layer", "kind", "parameters", "trains"]]
    for i, r in enumerate(freeze_summary(model)["layers"]):
        rows.append([i, r["layer"], r["kind"], f"{r['params']:,}", "yes" if r["trainable"] else "frozen"])
    return rows


def plot_val_comparison(runs: dict[str, list[dict]], path: Path) -> Path:
    """Validation accuracy per epoch of several runs in one panel (transfer vs from scratch)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, history in runs.items():
        ax.plot([h["epoch"] for h in history], [h.get("val_accuracy") for h in history], "-o", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _as_picture(image: torch.Tensor) -> np.ndarray:
    array = image.numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)  # (C, h, w) -> (h, w[, 3])


def report_sections(run_dir: Path, config: dict, history: list[dict], stage2: list[dict], scratch: list[dict],
                    test_metrics: dict, scratch_metrics: dict | None, trained_model, final, test: ImageSet,
                    class_names: list[str], max_errors: int = 30) -> list[Section]:
    offset = len(history)
    combined = history + [{**h, "epoch": h["epoch"] + offset} for h in stage2]
    curves = plot_curves(combined, figure_path(run_dir, "curves.png"), ("loss", "accuracy"),
                         title=f"{config['backbone']} ({config['weights']})" + (f", stage 2 from epoch {offset + 1}" if stage2 else ""))
    summary = {"test accuracy": test_metrics["accuracy"], "test images": test_metrics["n"],
               "test source": test_metrics.get("source", ""),
               "training images": f"{config['per_class']} per class" if config.get("per_class") else "all",
               "epochs": len(combined), "image size": config.get("input_size"),
               "training time (s)": round(sum(h.get("seconds", 0) for h in combined), 1)}
    sections = [Section("Summary", tables=[summary])]
    comparison = []
    if scratch_metrics is not None:
        scratch_curves = plot_curves(scratch, figure_path(run_dir, "scratch_curves.png"), ("loss", "accuracy"),
                                     title=f"{config['backbone']} from scratch (random weights, every layer training)")
        bars = bar_chart([test_metrics["accuracy"], scratch_metrics["accuracy"]],
                         [f"{config['weights']} weights, frozen as '{config.get('freeze_until') or config['freeze']}'", "from scratch"],
                         figure_path(run_dir, "comparison.png"), title="test accuracy", xlabel="accuracy")
        def kept(history: list[dict]):  # validation accuracy of the weights the run keeps (--select)
            values = [h.get("val_accuracy", 0.0) for h in history] or [None]
            return values[-1] if config.get("select") == "last" else max(values)

        table = [["model", "test accuracy", "test images", f"validation accuracy ({config.get('select', 'best')} epoch)"],
                 ["transfer", test_metrics["accuracy"], test_metrics["n"], kept(combined)],
                 ["from scratch", scratch_metrics["accuracy"], scratch_metrics["n"], kept(scratch)]]
        both = plot_val_comparison({"transfer": combined, "from scratch": scratch},
                                   figure_path(run_dir, "val_comparison.png"))
        comparison = [Section("Transfer vs from scratch (same network, data and epochs)", tables=[table],
                              figures=[bars, both, curves, scratch_curves])]
    sections += comparison or [Section("Learning curves", figures=[curves])]
    sections.append(Section("Frozen and trained layers (stage 1)",
                            text=[f"{test_metrics['freeze']['trainable_params']:,} trainable parameters, "
                                  f"{test_metrics['freeze']['frozen_params']:,} frozen; frozen BatchNorm stays in eval mode."],
                            tables=[freeze_table(final)]))
    if stage2:
        sections.append(Section("Second stage", text=[f"unfrozen from {config['stage2_freeze_until']!r}, learning rate "
                                                      f"x{config['stage2_lr_factor']}"], tables=[freeze_table(trained_model)]))
    confusion = plot_confusion(test_metrics["confusion_matrix"], class_names, figure_path(run_dir, "confusion.png"))
    sections.append(Section("Test set, per class", tables=[per_class_table(test_metrics, class_names)], figures=[confusion]))
    probs = predict_proba(final, test.images[:500])
    predicted = probs.argmax(1)
    wrong_all = np.flatnonzero(predicted != test.labels[:500])
    wrong = wrong_all[:max_errors]
    if len(wrong):
        grid = image_grid([_as_picture(test.images[i]) for i in wrong],
                          [f"true {class_names[test.labels[i]]}\npred {class_names[predicted[i]]} ({probs[i].max():.2f})" for i in wrong],
                          figure_path(run_dir, "misclassified.png"), cols=10)
        sections.append(Section(f"Misclassified test images ({len(wrong_all)} of the first {len(predicted)}, "
                                f"first {len(wrong)} shown)", figures=[grid]))
    if test_metrics.get("skipped_files"):
        sections.append(Section(f"Corrupt images skipped ({len(test_metrics['skipped_files'])})",
                                text=test_metrics["skipped_files"][:50]))
    return sections
