"""Training LeNet on MNIST-family digits: SGD with momentum as the lecture (and Caffe's LeNet solver) has it,
a one-cycle learning-rate schedule and small random affine augmentation; validation every epoch."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from shinsou.cnn.data import NUM_CLASSES, DigitSet, load_digit_data, stratified_split
from shinsou.cnn.report import write_mnist_report
from shinsou.cnn.transforms import eval_transform, train_transform
from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.checkpoint import BEST, load_weights
from shinsou.engine.config import load_run_config, resumed_config, save_run_config
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.runs import TrainResult, prepare_run_dir, write_json_atomic
from shinsou.engine.trainer import SCHEDULES, evaluate, fit, make_fabric, make_schedule, resolve_precision
from shinsou.errors import ConfigError
from shinsou.models import MODELS, build_model



@dataclass
class MnistConfig:
    pipeline: str = "mnist"
    data: str | None = None  # MNIST-layout folder or Kaggle CSV; None = the embedded sample
    model: str = "lenet-caffe"
    epochs: int = 40
    batch_size: int = 64
    lr: float = 0.03  # peak of the one-cycle schedule (Caffe's fixed-schedule start is 0.01)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    augment: bool = True
    val_fraction: float = 0.1
    seed: int = 0
    devices: int = 1
    precision: str = "auto"  # bf16 autocast where the hardware has it natively, else float32
    out: str | None = None


def check_config(cfg: MnistConfig) -> None:
    if cfg.model not in MODELS or not MODELS[cfg.model][0].startswith("shinsou.cnn"):
        digit_models = sorted(name for name, (module, _) in MODELS.items() if module.startswith("shinsou.cnn"))
        raise ConfigError(f"unknown model {cfg.model!r} for mnist (known: {', '.join(digit_models)})")
    if cfg.schedule not in SCHEDULES:
        raise ConfigError(f"unknown schedule {cfg.schedule!r} (known: {', '.join(SCHEDULES)})")
    for name in ("epochs", "batch_size", "devices"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if not cfg.lr > 0:
        raise ConfigError(f"--lr must be positive, got {cfg.lr}")
    if not 0 < cfg.val_fraction < 1:
        raise ConfigError(f"val_fraction must be between 0 and 1, got {cfg.val_fraction}")


def as_tensors(digits: DigitSet) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.array(digits.images)), torch.from_numpy(np.asarray(digits.labels, dtype=np.int64))


def make_optimizer(model: nn.Module, cfg: MnistConfig, steps_per_epoch: int):
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                                nesterov=True)
    scheduler = make_schedule(optimizer, cfg.schedule, cfg.lr, cfg.epochs * steps_per_epoch, warmup=0.2)
    return optimizer, scheduler


def train_mnist(cfg: MnistConfig, resume: str | Path | None = None, log=None) -> TrainResult:
    """Train (or resume) a digit classifier; returns the run directory and its test metrics."""
    log = log or (lambda line: print(line, file=sys.stderr))
    if resume is not None:
        run_dir = Path(resume)
        cfg = resumed_config(MnistConfig, run_dir)
    check_config(cfg)
    data = load_digit_data(cfg.data)
    if resume is None:
        run_dir = prepare_run_dir(cfg.out, "mnist")
    precision = resolve_precision(cfg.precision)
    fabric = make_fabric(cfg.devices, precision=precision)

    # train / validation / test: t10k when the source has it, else a held-out stratified 10%
    train_set = data.train
    if data.test is None:
        kept, held = stratified_split(train_set.labels, 0.1, cfg.seed)
        test_set = DigitSet(train_set.images[held], train_set.labels[held], train_set.source + " (held-out 10%)")
        train_set = DigitSet(train_set.images[kept], train_set.labels[kept], train_set.source)
    else:
        test_set = data.test
    train_idx, val_idx = stratified_split(train_set.labels, cfg.val_fraction, cfg.seed + 1)
    images, labels = as_tensors(train_set)

    torch.manual_seed(cfg.seed)  # the same initial weights on every rank and in every repeat
    model = build_model(cfg.model, num_classes=NUM_CLASSES, in_channels=1)
    size = model.input_size[-1]
    train_batches = InMemoryBatches(images[train_idx], labels[train_idx], cfg.batch_size, shuffle=True, seed=cfg.seed,
                                    transform=train_transform(size, cfg.augment)).shard(fabric.global_rank, fabric.world_size)
    val_batches = InMemoryBatches(eval_transform(images[val_idx], size), labels[val_idx], 1000)
    optimizer, scheduler = make_optimizer(model, cfg, len(train_batches))

    if fabric.is_global_zero and resume is None:
        save_run_config(run_dir, cfg, model_options={"num_classes": NUM_CLASSES, "in_channels": 1},
                        class_names=data.class_names, input_size=size)
        log(f"training {cfg.model} on {len(train_idx)} images ({data.train.source}), validating on {len(val_idx)}, "
            f"{fabric.world_size} process(es) on {fabric.device}, precision {precision}; run directory {run_dir}")
    loss_fn = nn.CrossEntropyLoss()  # softmax + cross-entropy against the one-hot target of each class index
    new_metric = lambda: ConfusionMatrix(NUM_CLASSES)  # noqa: E731
    history = fit(fabric, model, optimizer, train_batches, val_batches, loss_fn=loss_fn, new_metric=new_metric,
                  epochs=cfg.epochs, run_dir=run_dir, scheduler=scheduler, seed=cfg.seed, resume=resume is not None,
                  log=log)
    if not fabric.is_global_zero:
        return TrainResult(run_dir, {}, None)

    final = build_model(cfg.model, num_classes=NUM_CLASSES, in_channels=1)
    load_weights(final, run_dir / BEST)
    test_images, test_labels = as_tensors(test_set)
    test_metrics = evaluate(final, InMemoryBatches(eval_transform(test_images, size), test_labels, 1000),
                            loss_fn, new_metric)
    test_metrics["source"] = test_set.source
    write_json_atomic(run_dir / "metrics.json", test_metrics)
    report = write_mnist_report(run_dir, load_run_config(run_dir), history, test_metrics, final, test_set,
                                data.class_names)
    return TrainResult(run_dir, test_metrics, report)
