"""Molecule metrics as accumulators (update per batch, compute over the set, as engine/metrics.py does):
ROC-AUC and accuracy for classes (scikit-learn's roc_auc_score), RMSE, MAE and R^2 for values."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import roc_auc_score


def classification_scores(probs: np.ndarray, targets: np.ndarray) -> dict:
    """probs (M, K) class probabilities, targets (M,) indices -> accuracy and ROC-AUC (the positive class,
    index 1, when K = 2; one-vs-rest macro average otherwise). ROC-AUC is NaN when a class is missing."""
    probs, targets = np.asarray(probs, dtype=np.float64), np.asarray(targets)
    accuracy = float((probs.argmax(1) == targets).mean()) if len(targets) else math.nan
    present = np.unique(targets)
    if len(present) < 2:
        auc = math.nan
    elif probs.shape[1] == 2:
        auc = float(roc_auc_score(targets, probs[:, 1]))
    elif len(present) == probs.shape[1]:
        auc = float(roc_auc_score(targets, probs / probs.sum(1, keepdims=True), multi_class="ovr"))
    else:
        auc = math.nan
    return {"n": int(len(targets)), "roc_auc": auc, "accuracy": accuracy}


def regression_scores(predictions: np.ndarray, targets: np.ndarray) -> dict:
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    targets = np.asarray(targets, dtype=np.float64).reshape(-1)
    error = predictions - targets
    total = ((targets - targets.mean()) ** 2).sum() if len(targets) else 0.0
    return {"n": int(len(targets)),
            "rmse": float(np.sqrt((error ** 2).mean())) if len(targets) else math.nan,
            "mae": float(np.abs(error).mean()) if len(targets) else math.nan,
            "r2": float(1 - (error ** 2).sum() / total) if total > 0 else math.nan}


class ClassScores:
    """Accumulates softmax probabilities of logits (B, K) against targets (B,)."""

    def __init__(self):
        self.probs, self.targets = [], []

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        self.probs.append(torch.softmax(logits.detach().float(), 1).cpu().numpy())
        self.targets.append(targets.detach().cpu().numpy())

    def compute(self) -> dict:
        if not self.probs:
            return {"n": 0, "roc_auc": math.nan, "accuracy": math.nan}
        return classification_scores(np.concatenate(self.probs), np.concatenate(self.targets))


class ValueScores:
    """Accumulates predictions (B, 1) against targets (B,)."""

    def __init__(self):
        self.predictions, self.targets = [], []

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.predictions.append(outputs.detach().float().reshape(-1).cpu().numpy())
        self.targets.append(targets.detach().float().reshape(-1).cpu().numpy())

    def compute(self) -> dict:
        if not self.predictions:
            return {"n": 0, "rmse": math.nan, "mae": math.nan, "r2": math.nan}
        return regression_scores(np.concatenate(self.predictions), np.concatenate(self.targets))
