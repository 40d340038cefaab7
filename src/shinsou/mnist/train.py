"""Training LeNet on MNIST-family digits: SGD with momentum as the lecture (and Caffe's LeNet solver) has it,
a one-cycle learning-rate schedule and small random affine augmentation; the engine runs the lifecycle."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.evaluation import evaluate
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.trainer import make_schedule
from shinsou.mnist.config import Config
from shinsou.mnist.data import NUM_CLASSES, DigitSet, load_digit_data, stratified_split
from shinsou.mnist.transforms import eval_transform, train_transform
from shinsou.models import build_model
from shinsou.errors import ConfigError


def check(cfg: Config) -> None:
    if not 0 < cfg.val_fraction < 1:
        raise ConfigError(f"val_fraction must be between 0 and 1, got {cfg.val_fraction}")


def as_tensors(digits: DigitSet) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.array(digits.images)), torch.from_numpy(np.asarray(digits.labels, dtype=np.int64))


def test_split(data_path: str | None, seed: int) -> tuple[DigitSet, list[str]]:
    """The test split a run is measured on: t10k, or a held-out stratified 10% when the source has none."""
    data = load_digit_data(data_path)
    if data.test is not None:
        return data.test, data.class_names
    _, held = stratified_split(data.train.labels, 0.1, seed)
    return DigitSet(data.train.images[held], data.train.labels[held], data.train.source + " (held-out 10%)"), data.class_names


def make_optimizer(model: nn.Module, cfg: Config, steps_per_epoch: int):
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                                nesterov=True)
    scheduler = make_schedule(optimizer, cfg.schedule, cfg.lr, cfg.epochs * steps_per_epoch, warmup=0.2)
    return optimizer, scheduler


def train(cfg: Config, run) -> dict:
    """Fit a digit classifier on the training split, keep the best epoch by validation accuracy, score the test split."""
    data = load_digit_data(cfg.data)
    train_set, test_set = data.train, data.test
    if test_set is None:  # no t10k: hold out a stratified 10% for testing
        kept, held = stratified_split(train_set.labels, 0.1, cfg.seed)
        test_set = DigitSet(train_set.images[held], train_set.labels[held], train_set.source + " (held-out 10%)")
        train_set = DigitSet(train_set.images[kept], train_set.labels[kept], train_set.source)
    train_idx, val_idx = stratified_split(train_set.labels, cfg.val_fraction, cfg.seed + 1)
    images, labels = as_tensors(train_set)

    torch.manual_seed(cfg.seed)  # the same initial weights on every rank and in every repeat
    model_options = {"num_classes": NUM_CLASSES, "in_channels": 1}
    model = build_model(cfg.model, **model_options)
    size = model.input_size[-1]
    train_batches = InMemoryBatches(images[train_idx], labels[train_idx], cfg.batch_size, shuffle=True, seed=cfg.seed,
                                    transform=train_transform(size, cfg.augment)).shard(run.fabric.global_rank,
                                                                                        run.fabric.world_size)
    val_batches = InMemoryBatches(eval_transform(images[val_idx], size), labels[val_idx], 1000)
    optimizer, scheduler = make_optimizer(model, cfg, len(train_batches))
    run.record(model=cfg.model, model_options=model_options, class_names=data.class_names, input_size=size)
    run.info(f"training {cfg.model} on {len(train_idx)} images ({data.train.source}), validating on {len(val_idx)}, "
             f"{run.fabric.world_size} process(es) on {run.fabric.device}, precision {run.precision}; "
             f"run directory {run.dir}")
    loss_fn = nn.CrossEntropyLoss()  # softmax + cross-entropy against the one-hot target of each class index
    new_metric = lambda: ConfusionMatrix(NUM_CLASSES)  # noqa: E731
    history = run.fit(model, optimizer, train_batches, val_batches, loss_fn=loss_fn, new_metric=new_metric,
                      scheduler=scheduler)
    if not run.is_main:
        return {}

    final = run.best(build_model(cfg.model, **model_options))
    test_images, test_labels = as_tensors(test_set)
    metrics = evaluate(final, InMemoryBatches(eval_transform(test_images, size), test_labels, 1000), loss_fn, new_metric)
    metrics["source"] = test_set.source

    from shinsou.mnist.report import report_sections

    run.report(f"shinsou · {cfg.model} on {data.train.source}",
               report_sections(run.dir, history, metrics, final, test_set, data.class_names))
    return metrics
