"""Fine-tuning a pretrained backbone on a small labelled set: the lecture's recipe (early layers frozen), an
optional second stage that unfreezes more at a lower learning rate (Keras/fastai), and a from-scratch twin."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.checkpoint import BEST, LAST, TRAIN_STATE, copy_atomic, load_train_state, load_weights
from shinsou.engine.config import load_run_config, resumed_config, save_run_config
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.runs import TrainResult, prepare_run_dir, write_json_atomic
from shinsou.engine.trainer import PRECISIONS, evaluate, fit, make_fabric, resolve_precision
from shinsou.errors import ConfigError, DataError, unknown_name
from shinsou.transfer.backbones import BACKBONES, TransferNet, build_backbone, make_net, preprocess_for, resolve_weights
from shinsou.transfer.data import ImageSet, SplitPlan, TransferData, load_transfer_data
from shinsou.transfer.freeze import RECIPES, apply_freeze, describe_freeze, freeze_cut, freeze_summary
from shinsou.transfer.transforms import eval_transform, train_transform

STAGE2, SCRATCH = "stage2", "scratch"  # sub-run directories inside RUN_DIR
SELECT = ("best", "last")


@dataclass
class TransferConfig:
    pipeline: str = "transfer"
    data: str | None = None  # ImageFolder/EuroSAT tree or MNIST-layout IDX folder
    backbone: str = "efficientnet_lite0"
    weights: str = "imagenet"  # imagenet | none | a state_dict file
    freeze: str = "lecture"  # lecture | none | all-but-head
    freeze_until: str | None = None  # a layer name or index: every layer before it is frozen (overrides freeze)
    per_class: int | None = None  # keep K labelled training images per class (chosen by seed)
    val_per_class: int | None = None  # validation images per class (default: per_class; all when per_class is unset)
    image_size: int | None = None  # default: the weights' resolution (224)
    epochs: int = 15
    batch_size: int = 32
    lr: float = 1e-3  # AdamW, one-cycle schedule
    weight_decay: float = 1e-4
    bn_momentum: float | None = 0.1  # of the BatchNorm layers that train (TF-ported weights carry 0.01); None keeps it
    augment: bool = True
    val_fraction: float = 0.1
    test_fraction: float = 0.2  # folders without their own test/ split
    stage2_epochs: int = 0  # second stage: unfreeze more, train on at a lower learning rate
    stage2_freeze_until: str = "none"
    stage2_lr_factor: float = 0.1
    # second stage: every BatchNorm keeps the statistics it has (inference mode; its scale and shift still train),
    # as Keras's fine-tuning guide advises: re-estimating them from 32 small-set images per batch undoes stage 1
    stage2_freeze_bn: bool = True
    select: str = "best"  # the weights a run keeps: best (validation accuracy) or last (the final epoch)
    compare_scratch: bool = False  # also train the same network from random weights, same data and epochs
    strict: bool = False  # a corrupt image fails the run instead of being skipped
    seed: int = 0
    # float32 by default: a small set trains in seconds anyway, and bf16 autocast of the ported ImageNet weights
    # cost 2.6 points on Fashion-MNIST (docs/transfer.md); "auto" = bf16 where the hardware has it natively
    precision: str = "32-true"
    devices: int = 1
    out: str | None = None


def check_config(cfg: TransferConfig) -> None:
    if cfg.backbone not in BACKBONES:
        raise unknown_name("backbone", cfg.backbone, BACKBONES)
    if cfg.freeze not in RECIPES:
        raise ConfigError(f"unknown --freeze {cfg.freeze!r} (known: {', '.join(RECIPES)}; or --freeze-until NAME_OR_INDEX)")
    for name in ("epochs", "batch_size", "devices"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    for name in ("per_class", "val_per_class", "image_size"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if cfg.image_size is not None and cfg.image_size < 32:
        raise ConfigError(f"--image-size must be at least 32 (five stride-2 stages), got {cfg.image_size}")
    if cfg.select not in SELECT:
        raise ConfigError(f"unknown --select {cfg.select!r} (known: {', '.join(SELECT)})")
    if cfg.precision not in PRECISIONS:
        raise ConfigError(f"unknown --precision {cfg.precision!r} (known: {', '.join(PRECISIONS)})")
    if cfg.stage2_epochs < 0:
        raise ConfigError(f"--stage2-epochs must be 0 or more, got {cfg.stage2_epochs}")
    if not cfg.lr > 0 or not cfg.stage2_lr_factor > 0:
        raise ConfigError(f"--lr and --stage2-lr-factor must be positive, got {cfg.lr} and {cfg.stage2_lr_factor}")
    if not (0 < cfg.val_fraction < 1 and 0 < cfg.test_fraction < 1 and cfg.val_fraction + cfg.test_fraction < 1):
        raise ConfigError(f"val_fraction and test_fraction must be between 0 and 1 and leave room for training, "
                          f"got {cfg.val_fraction} and {cfg.test_fraction}")
    with torch.device("meta"):  # the layer names, without building real weights
        probe = make_net(cfg.backbone, 2, 224)
    freeze_cut(probe, cfg.freeze_until or cfg.freeze)
    if cfg.stage2_epochs:
        freeze_cut(probe, cfg.stage2_freeze_until, "--stage2-freeze-until")


def split_plan(cfg: TransferConfig) -> SplitPlan:
    val_per_class = cfg.val_per_class if cfg.val_per_class is not None else cfg.per_class
    return SplitPlan(cfg.val_fraction, cfg.test_fraction, cfg.seed, cfg.per_class, val_per_class)


def image_size_of(cfg: TransferConfig) -> int:
    return cfg.image_size or preprocess_for(cfg.backbone).size


def batches_for(images: ImageSet, model, batch_size: int, train: bool = False, augment: bool = True, seed: int = 0):
    size = model.input_size[-1]
    labels = torch.from_numpy(images.labels)
    if train:
        return InMemoryBatches(images.images, labels, batch_size, shuffle=True, seed=seed,
                               transform=train_transform(model.preprocess, size, augment))
    return InMemoryBatches(images.images, labels, max(batch_size, 100), transform=eval_transform(model.preprocess, size))


def fit_stage(fabric, model, data: TransferData, cfg: TransferConfig, run_dir: Path, lr: float, epochs: int, log) -> list[dict]:
    """One fit() over the trainable parameters: AdamW, one-cycle schedule, best epoch by validation accuracy."""
    run_dir.mkdir(parents=True, exist_ok=True)
    num_classes = len(data.class_names)
    train = batches_for(data.splits["train"], model, cfg.batch_size, True, cfg.augment, cfg.seed)
    train.shard(fabric.global_rank, fabric.world_size)
    val = batches_for(data.splits["val"], model, cfg.batch_size)
    set_bn_momentum(model, cfg.bn_momentum)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(train), pct_start=0.1)
    history = fit(fabric, model, optimizer, train, val, loss_fn=nn.CrossEntropyLoss(),
                  new_metric=lambda: ConfusionMatrix(num_classes), epochs=epochs, run_dir=run_dir, scheduler=scheduler,
                  seed=cfg.seed, resume=(run_dir / TRAIN_STATE).exists(), log=log)
    if cfg.select == "last" and fabric.is_global_zero:  # the final epoch's weights become the ones the run keeps
        copy_atomic(run_dir / LAST, run_dir / BEST)
    return history


def set_bn_momentum(model: nn.Module, momentum: float | None) -> None:
    """BatchNorm layers that train follow the new data with `momentum`: TF's 0.01 (Lite0, EfficientNet-B0,
    MobileNetV3) would leave their running statistics mostly ImageNet's after the few hundred steps of a small set."""
    if momentum is None:
        return
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and any(p.requires_grad for p in module.parameters()):
            module.momentum = momentum


def kept_score(run_dir: Path, select: str) -> float:
    """Validation accuracy of the weights a (sub-)run keeps in best.safetensors."""
    state = load_train_state(run_dir / TRAIN_STATE)
    return float(state["best"] if select == "best" else state["history"][-1].get("val_accuracy", 0.0))


def evaluate_test(model, test: ImageSet, num_classes: int) -> dict:
    batches = InMemoryBatches(test.images, torch.from_numpy(test.labels), 100,
                              transform=eval_transform(model.preprocess, model.input_size[-1]))
    metrics = evaluate(model, batches, nn.CrossEntropyLoss(), lambda: ConfusionMatrix(num_classes))
    metrics["source"] = test.source
    return metrics


def load_transfer_run(run_dir: str | Path, which: str = BEST) -> tuple[TransferNet, dict]:
    """The run's backbone (config.yaml's `model` and `model_options`) with its best weights, in eval mode.
    The same as engine.runs.load_run_model, without going through the models registry."""
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    if config.get("model") not in BACKBONES:
        raise DataError(f"{run_dir}: not a transfer run (model {config.get('model')!r})")
    if not (run_dir / which).exists():
        raise DataError(f"{run_dir}: no {which} (the run stopped before its first epoch ended)")
    model = build_backbone(config["model"], **{**config.get("model_options", {}), "weights": "none"})
    load_weights(model, run_dir / which)
    return model.eval(), config


def train_transfer(cfg: TransferConfig, resume: str | Path | None = None, log=None) -> TrainResult:
    """Fine-tune (or resume) `cfg.backbone` on `cfg.data`; returns the run directory and its test metrics."""
    log = log or (lambda line: print(line, file=sys.stderr))
    if resume is not None:
        run_dir = Path(resume)
        cfg = resumed_config(TransferConfig, run_dir)
    check_config(cfg)
    size = image_size_of(cfg)
    preprocess = preprocess_for(cfg.backbone)
    state, weights_source = resolve_weights(cfg.backbone, cfg.weights)  # fails early (offline, bad file)
    data = load_transfer_data(cfg.data, split_plan(cfg), size, strict=cfg.strict, log=log,
                              interpolation=preprocess.interpolation)
    num_classes = len(data.class_names)
    if resume is None:
        run_dir = prepare_run_dir(cfg.out, "transfer")
    fabric = make_fabric(cfg.devices, precision=cfg.precision)

    torch.manual_seed(cfg.seed)  # the new head's initialisation
    freeze = cfg.freeze_until or cfg.freeze
    model = build_backbone(cfg.backbone, num_classes, cfg.weights, size, freeze=freeze, state=state)
    model_options = {"num_classes": num_classes, "image_size": size, "freeze": freeze}
    if fabric.is_global_zero:
        if resume is None:
            save_run_config(run_dir, cfg, model=cfg.backbone, model_options=model_options,
                            class_names=data.class_names, input_size=size)
        sizes = ", ".join(f"{len(data.splits[s].labels)} {s}" for s in ("train", "val", "test"))
        log(f"{cfg.backbone} ({weights_source}) at {size}x{size} on {cfg.data}: {num_classes} classes, {sizes}; "
            f"precision {resolve_precision(cfg.precision)}; run directory {run_dir}")
        for line in describe_freeze(model):
            log(line)

    history = fit_stage(fabric, model, data, cfg, run_dir, cfg.lr, cfg.epochs, log)
    stage2_history: list[dict] = []
    if cfg.stage2_epochs:
        fabric.barrier()
        load_weights(model, run_dir / BEST)
        apply_freeze(model, freeze_cut(model, cfg.stage2_freeze_until, "--stage2-freeze-until"))
        model.batchnorm_stats_frozen = cfg.stage2_freeze_bn
        if fabric.is_global_zero:
            log(f"stage 2: {cfg.stage2_epochs} epoch(s) at lr {cfg.lr * cfg.stage2_lr_factor:g}"
                + ("; BatchNorm statistics kept (inference mode)" if cfg.stage2_freeze_bn else ""))
            for line in describe_freeze(model):
                log(line)
        stage2_history = fit_stage(fabric, model, data, cfg, run_dir / STAGE2, cfg.lr * cfg.stage2_lr_factor,
                                   cfg.stage2_epochs, log)
        if fabric.is_global_zero and kept_score(run_dir / STAGE2, cfg.select) > kept_score(run_dir, cfg.select):
            copy_atomic(run_dir / STAGE2 / BEST, run_dir / BEST)
    scratch_history: list[dict] = []
    if cfg.compare_scratch:
        torch.manual_seed(cfg.seed)
        scratch = build_backbone(cfg.backbone, num_classes, "none", size, freeze="none")
        if fabric.is_global_zero:
            log(f"from scratch: the same {cfg.backbone}, random weights, every layer training, "
                f"{cfg.epochs + cfg.stage2_epochs} epochs")
        scratch_history = fit_stage(fabric, scratch, data, cfg, run_dir / SCRATCH, cfg.lr,
                                    cfg.epochs + cfg.stage2_epochs, log)
    if not fabric.is_global_zero:
        return TrainResult(run_dir, {}, None)

    from shinsou.transfer.report import write_transfer_report

    final, config = load_transfer_run(run_dir)
    test = data.splits["test"]
    log(f"evaluating on {len(test.labels)} test images")
    test_metrics = evaluate_test(final, test, num_classes)
    test_metrics["class_names"] = data.class_names
    test_metrics["freeze"] = {k: v for k, v in freeze_summary(final).items() if k != "layers"}  # stage 1's
    if cfg.stage2_epochs:
        test_metrics["stage2_freeze"] = {k: v for k, v in freeze_summary(model).items() if k != "layers"}
    test_metrics["skipped_files"] = data.skipped
    scratch_metrics = None
    if cfg.compare_scratch:
        scratch_model = build_backbone(cfg.backbone, num_classes, "none", size, freeze="none")
        load_weights(scratch_model, run_dir / SCRATCH / BEST)
        scratch_metrics = evaluate_test(scratch_model.eval(), test, num_classes)
        test_metrics["scratch"] = {k: scratch_metrics[k] for k in ("accuracy", "class_accuracy", "n", "loss")}
        log(f"test accuracy: transfer {test_metrics['accuracy']:.4f}, from scratch {scratch_metrics['accuracy']:.4f}")
    write_json_atomic(run_dir / "metrics.json", test_metrics)
    report = write_transfer_report(run_dir, config, history, stage2_history, scratch_history, test_metrics,
                                   scratch_metrics, model, final, test, data.class_names)
    return TrainResult(run_dir, test_metrics, report)
