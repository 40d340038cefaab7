"""Evaluation over a whole set of batches, without training machinery: loss and metric accumulators.
Shared by training (validation, test) and by loaded Predictors, which must not import Lightning."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

Batch = tuple


def default_forward(model: nn.Module, batch: Batch):
    """(inputs, targets) -> (outputs, targets); pipelines with other batch types pass their own."""
    inputs, targets = batch
    return model(inputs), targets


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable, loss_fn, new_metric, forward=default_forward, device=None) -> dict:
    """Loss and metrics over the whole of `batches` (accumulated, not averaged per batch). With `loss_fn=None`
    (models that compute their own loss in training and return predictions in eval mode) only the metric is kept."""
    model.eval()
    metric = new_metric()
    total_loss, seen = 0.0, 0
    device = device or next(model.parameters()).device
    for batch in batches:
        batch = to_device(batch, device)
        outputs, targets = forward(model, batch)
        n = len(targets) if hasattr(targets, "__len__") else 1
        if loss_fn is not None:
            total_loss += loss_fn(outputs, targets).item() * n
        seen += n
        metric.update(outputs, targets)
    scores = metric.compute()
    return {"loss": total_loss / max(seen, 1), **scores} if loss_fn is not None else scores


def scalars(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if isinstance(v, (int, float))}


def to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if hasattr(batch, "to"):
        return batch.to(device)
    return batch
