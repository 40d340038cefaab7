"""The molecule run report's sections: the GCN beside the random forest on the same test molecules (ROC-AUC and
accuracy, ROC curves; or RMSE, R^2 and predicted-vs-measured), learning curves, split sizes, skipped rows."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from shinsou.engine.report import Section, figure_path, plot_curves, save_figure  # noqa: E402
from shinsou.molecules.data import MoleculeSet  # noqa: E402
from shinsou.molecules.splits import Split  # noqa: E402


def plot_roc(targets: np.ndarray, curves: dict[str, tuple[np.ndarray, float]], path: Path, title: str) -> Path:
    """curves: name -> (positive-class scores (M,), its ROC-AUC)."""
    fig, ax = plt.subplots(figsize=(5, 4.6))
    for name, (scores, auc) in curves.items():
        fpr, tpr, _ = roc_curve(targets, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_scatter(targets: np.ndarray, predictions: dict[str, tuple[np.ndarray, dict]], path: Path, label: str) -> Path:
    fig, axes = plt.subplots(1, len(predictions), figsize=(4.6 * len(predictions), 4.4), squeeze=False)
    low, high = float(targets.min()), float(targets.max())
    for ax, (name, (values, stats)) in zip(axes[0], predictions.items()):
        ax.scatter(targets, values, s=8, alpha=0.6)
        ax.plot([low, high], [low, high], ":", color="grey")
        ax.set_xlabel(f"measured {label}")
        ax.set_ylabel(f"predicted {label}")
        ax.set_title(f"{name}: RMSE {stats['rmse']:.3f}, R² {stats['r2']:.3f}")
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def comparison_table(metrics: dict) -> list[list]:
    keys = ["roc_auc", "accuracy"] if metrics["task"] == "classification" else ["rmse", "mae", "r2"]
    rows = [["model", *keys, "test molecules", "training time (s)"]]
    members = metrics.get("members", [])
    name = f"GCN ensemble of {len(members)}" if members else "GCN"
    rows.append([name, *[metrics[k] for k in keys], metrics["n"], metrics.get("train_seconds")])
    for k, member in enumerate(members):
        rows.append([f"  member {k + 1} alone", *[member[key] for key in keys], member["n"], None])
    base = metrics.get("baseline")
    if base:
        rows.append([base["model"], *[base[k] for k in keys], base["n"], base.get("train_seconds")])
    return rows


def report_sections(run_dir: Path, history: list[dict], metrics: dict, molecules: MoleculeSet, split: Split,
                    gcn_out: np.ndarray, forest_out: np.ndarray | None) -> list[Section]:
    targets = molecules.targets[split.test]
    classification = metrics["task"] == "classification"
    sections = [Section("GCN vs random forest on the same test molecules", text=[
        f"{metrics['split']} split (seed {metrics['seed']}): {len(split.train)} train, {len(split.val)} validation, "
        f"{len(split.test)} test molecules. "
        + ("The GCN is trained on train + validation for a fixed number of epochs (the last is kept), as the "
           "forest is fit. " if metrics.get("fit_on") == "train+val" else
           "The GCN's best epoch is chosen on validation; the forest is fit on train + validation (it has no "
           "early stopping). ")
        + ("Scaffold split: no Bemis-Murcko scaffold is on two sides; the test set holds the rarest scaffolds."
           if metrics["split"] == "scaffold" else "Random split, stratified by class.")],
        tables=[comparison_table(metrics)])]
    if classification and len(molecules.class_names) == 2 and len(np.unique(targets)) == 2:
        curves = {"GCN": (gcn_out[:, 1], metrics["roc_auc"])}
        if forest_out is not None:
            curves["random forest"] = (forest_out[:, 1], metrics["baseline"]["roc_auc"])
        sections.append(Section(f"ROC curves (positive class {molecules.class_names[1]!r})", figures=[
            plot_roc(targets, curves, figure_path(run_dir, "roc.png"), f"{metrics['split']} split, test set")]))
    elif not classification:
        predictions = {"GCN": (gcn_out, metrics)}
        if forest_out is not None:
            predictions["random forest"] = (forest_out, metrics["baseline"])
        sections.append(Section("Predicted vs measured", figures=[
            plot_scatter(targets, predictions, figure_path(run_dir, "scatter.png"), molecules.target_column)]))
    watched = ("loss", "roc_auc") if classification else ("loss", "rmse")
    sections.append(Section("Learning curves", figures=[plot_curves(history, figure_path(run_dir, "curves.png"), watched)]))
    if classification:
        counts = {name: [int((molecules.targets[getattr(split, part)] == k).sum()) for part in ("train", "val", "test")]
                  for k, name in enumerate(molecules.class_names)}
        sections.append(Section("Classes per split", tables=[[["class", "train", "validation", "test"]]
                                                              + [[name, *c] for name, c in counts.items()]]))
    if molecules.skipped:
        rows = [["line", "SMILES", "why"]] + [[s["line"], s["smiles"], s["reason"]] for s in molecules.skipped[:200]]
        sections.append(Section(f"Skipped rows ({len(molecules.skipped)})", tables=[rows]))
    return sections
