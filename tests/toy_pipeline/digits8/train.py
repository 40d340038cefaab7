"""digits8's training: only what is its own (data, model, loss, test metric); the engine does the rest."""

from __future__ import annotations

import torch
from torch import nn

from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.evaluation import evaluate
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.report import Section

from digits8.data import CLASS_NAMES, build_model, splits, to_tensor


def train(cfg, run) -> dict:
    data = splits(cfg.seed)
    batches = {name: InMemoryBatches(to_tensor(x), torch.from_numpy(y), cfg.batch_size, shuffle=name == "train",
                                     seed=cfg.seed) for name, (x, y) in data.items()}
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.hidden)
    run.record(class_names=CLASS_NAMES)
    history = run.fit(model, torch.optim.Adam(model.parameters(), lr=cfg.lr), batches["train"], batches["val"],
                      loss_fn=nn.CrossEntropyLoss(), new_metric=lambda: ConfusionMatrix(10))
    if not run.is_main:
        return {}
    final = run.best(build_model(cfg.hidden))
    metrics = evaluate(final, batches["test"], nn.CrossEntropyLoss(), lambda: ConfusionMatrix(10))
    run.report("digits8", [Section("Test", tables=[{"accuracy": metrics["accuracy"], "epochs": len(history)}])])
    return metrics
