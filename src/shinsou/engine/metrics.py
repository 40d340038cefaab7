"""Metrics as small accumulators, after torchvision's references/segmentation `ConfusionMatrix`:
update() per batch, compute() over the whole set; classification and segmentation share it."""

from __future__ import annotations

import torch


class ConfusionMatrix:
    """Counts (true class, predicted class) pairs; rows are true classes, columns predictions."""

    def __init__(self, num_classes: int, ignore_index: int | None = None):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, logits_or_preds: torch.Tensor, targets: torch.Tensor) -> None:
        """logits (B, K, ...) or predictions (B, ...) against targets (B, ...)."""
        preds = logits_or_preds.argmax(1) if logits_or_preds.dim() == targets.dim() + 1 else logits_or_preds
        preds, targets = preds.reshape(-1).to("cpu"), targets.reshape(-1).to("cpu")
        keep = (targets >= 0) & (targets < self.num_classes)
        if self.ignore_index is not None:
            keep &= targets != self.ignore_index
        index = targets[keep] * self.num_classes + preds[keep]
        self.matrix += torch.bincount(index, minlength=self.num_classes**2).reshape(self.num_classes, self.num_classes)

    def compute(self) -> dict:
        m = self.matrix.double()
        true_total, pred_total, hits = m.sum(1), m.sum(0), m.diag()
        n = m.sum()
        recall = torch.where(true_total > 0, hits / true_total.clamp(min=1), torch.nan)
        precision = torch.where(pred_total > 0, hits / pred_total.clamp(min=1), torch.nan)
        f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        union = true_total + pred_total - hits
        iou = torch.where(union > 0, hits / union.clamp(min=1), torch.nan)
        present = true_total > 0
        return {
            "n": int(n),
            "accuracy": float(hits.sum() / n) if n > 0 else float("nan"),  # global accuracy
            "class_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
            "mean_iou": float(iou[present].mean()) if present.any() else float("nan"),
            "per_class": {
                "precision": precision.tolist(),
                "recall": recall.tolist(),
                "f1": f1.tolist(),
                "iou": iou.tolist(),
                "support": true_total.long().tolist(),
            },
            "confusion_matrix": self.matrix.tolist(),
        }
