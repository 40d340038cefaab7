"""Fine-tuning a pretrained backbone on a small labelled set: the lecture's recipe (early layers frozen), an
optional second stage that unfreezes more at a lower learning rate (Keras/fastai), and a from-scratch twin."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.checkpoint import BEST, TRAIN_STATE, copy_atomic, load_train_state
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.errors import ConfigError, DataError
from shinsou.transfer.backbones import build_backbone, make_net, preprocess_for, resolve_weights
from shinsou.transfer.config import Config
from shinsou.transfer.data import ImageSet, SplitPlan, TransferData, load_transfer_data
from shinsou.transfer.freeze import apply_freeze, describe_freeze, freeze_cut, freeze_summary
from shinsou.transfer.predictor import evaluate_split, for_inference, load_transfer_run
from shinsou.transfer.transforms import eval_transform, train_transform

STAGE2, SCRATCH = "stage2", "scratch"  # sub-run directories inside RUN_DIR


def check(cfg: Config) -> None:
    """What the engine does not check already (common options, types and choices), before any data is read."""
    for name in ("per_class", "val_per_class", "image_size"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if cfg.image_size is not None and cfg.image_size < 32:
        raise ConfigError(f"--image-size must be at least 32 (five stride-2 stages), got {cfg.image_size}")
    if cfg.stage2_epochs < 0:
        raise ConfigError(f"--stage2-epochs must be 0 or more, got {cfg.stage2_epochs}")
    if not cfg.stage2_lr_factor > 0:
        raise ConfigError(f"--stage2-lr-factor must be positive, got {cfg.stage2_lr_factor}")
    if not (0 < cfg.val_fraction < 1 and 0 < cfg.test_fraction < 1 and cfg.val_fraction + cfg.test_fraction < 1):
        raise ConfigError(f"val_fraction and test_fraction must be between 0 and 1 and leave room for training, "
                          f"got {cfg.val_fraction} and {cfg.test_fraction}")
    if cfg.weights not in ("imagenet", "none") and not Path(cfg.weights).exists():
        raise DataError(f"{cfg.weights}: no such weights file (--weights takes imagenet, none or a state_dict file)")
    with torch.device("meta"):  # the layer names, without building real weights
        probe = make_net(cfg.backbone, 2, 224)
    freeze_cut(probe, cfg.freeze_until or cfg.freeze)
    if cfg.stage2_epochs:
        freeze_cut(probe, cfg.stage2_freeze_until, "--stage2-freeze-until")


def image_size_of(cfg: Config) -> int:
    return cfg.image_size or preprocess_for(cfg.backbone).size


def batches_for(images: ImageSet, model, batch_size: int, train: bool = False, augment: bool = True, seed: int = 0):
    size = model.input_size[-1]
    labels = torch.from_numpy(images.labels)
    if train:
        return InMemoryBatches(images.images, labels, batch_size, shuffle=True, seed=seed,
                               transform=train_transform(model.preprocess, size, augment))
    return InMemoryBatches(images.images, labels, max(batch_size, 100), transform=eval_transform(model.preprocess, size))


def set_bn_momentum(model: nn.Module, momentum: float | None) -> None:
    """BatchNorm layers that train follow the new data with `momentum`: TF's 0.01 (Lite0, EfficientNet-B0,
    MobileNetV3) would leave their running statistics mostly ImageNet's after the few hundred steps of a small set."""
    if momentum is None:
        return
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and any(p.requires_grad for p in module.parameters()):
            module.momentum = momentum


def fit_stage(run, model, data: TransferData, cfg: Config, lr: float, epochs: int, stage: str = "") -> list[dict]:
    """One run.fit over the trainable parameters: AdamW, one-cycle schedule, the epoch kept by --select."""
    num_classes = len(data.class_names)
    train = batches_for(data.splits["train"], model, cfg.batch_size, True, cfg.augment, cfg.seed)
    train.shard(run.fabric.global_rank, run.fabric.world_size)
    val = batches_for(data.splits["val"], model, cfg.batch_size)
    set_bn_momentum(model, cfg.bn_momentum)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(train), pct_start=0.1)
    return run.fit(model, optimizer, train, val, loss_fn=nn.CrossEntropyLoss(),
                   new_metric=lambda: ConfusionMatrix(num_classes), epochs=epochs, stage=stage, scheduler=scheduler,
                   keep=cfg.select)


def kept_score(run, stage: str, select: str) -> float:
    """Validation accuracy of the weights a stage keeps in its best.safetensors."""
    state = load_train_state(run.stage_dir(stage) / TRAIN_STATE)
    return float(state["best"] if select == "best" else state["history"][-1].get("val_accuracy", 0.0))


def train(cfg: Config, run) -> dict:
    """Fine-tune `cfg.backbone` on `cfg.data` (then a second stage and a from-scratch twin if asked); test metrics."""
    size = image_size_of(cfg)
    preprocess = preprocess_for(cfg.backbone)
    state, weights_source = resolve_weights(cfg.backbone, cfg.weights)  # fails early (offline, bad file)
    data = load_transfer_data(cfg.data, SplitPlan.from_config(vars(cfg)), size, strict=cfg.strict, log=run.info,
                              interpolation=preprocess.interpolation)
    num_classes = len(data.class_names)

    torch.manual_seed(cfg.seed)  # the new head's initialisation
    freeze = cfg.freeze_until or cfg.freeze
    model = build_backbone(cfg.backbone, num_classes, cfg.weights, size, freeze=freeze, state=state)
    run.record(model=cfg.backbone, model_options={"num_classes": num_classes, "image_size": size, "freeze": freeze},
               class_names=data.class_names, input_size=size)
    sizes = ", ".join(f"{len(data.splits[s].labels)} {s}" for s in ("train", "val", "test"))
    run.info(f"{cfg.backbone} ({weights_source}) at {size}x{size} on {cfg.data}: {num_classes} classes, {sizes}; "
             f"precision {run.precision}; run directory {run.dir}")
    for line in describe_freeze(model):
        run.info(line)

    history = fit_stage(run, model, data, cfg, cfg.lr, cfg.epochs)
    stage2_history: list[dict] = []
    if cfg.stage2_epochs:
        run.best(model)  # stage 2 starts from stage 1's kept weights
        apply_freeze(model, freeze_cut(model, cfg.stage2_freeze_until, "--stage2-freeze-until"))
        model.batchnorm_stats_frozen = cfg.stage2_freeze_bn
        run.info(f"stage 2: {cfg.stage2_epochs} epoch(s) at lr {cfg.lr * cfg.stage2_lr_factor:g}"
                 + ("; BatchNorm statistics kept (inference mode)" if cfg.stage2_freeze_bn else ""))
        for line in describe_freeze(model):
            run.info(line)
        stage2_history = fit_stage(run, model, data, cfg, cfg.lr * cfg.stage2_lr_factor, cfg.stage2_epochs, STAGE2)
        if run.is_main and kept_score(run, STAGE2, cfg.select) > kept_score(run, "", cfg.select):
            copy_atomic(run.stage_dir(STAGE2) / BEST, run.dir / BEST)  # the run keeps stage 2's weights
    scratch_history: list[dict] = []
    if cfg.compare_scratch:
        torch.manual_seed(cfg.seed)
        scratch = build_backbone(cfg.backbone, num_classes, "none", size, freeze="none")
        run.info(f"from scratch: the same {cfg.backbone}, random weights, every layer training, "
                 f"{cfg.epochs + cfg.stage2_epochs} epochs")
        scratch_history = fit_stage(run, scratch, data, cfg, cfg.lr, cfg.epochs + cfg.stage2_epochs, SCRATCH)
    if not run.is_main:
        return {}

    final, config = load_transfer_run(run.dir)  # the kept weights, with stage 1's freezing for the report
    test = data.splits["test"]
    run.info(f"evaluating on {len(test.labels)} test images")
    metrics = evaluate_split(final, test, num_classes)
    metrics["class_names"] = data.class_names
    metrics["freeze"] = {k: v for k, v in freeze_summary(final).items() if k != "layers"}  # stage 1's
    if cfg.stage2_epochs:
        metrics["stage2_freeze"] = {k: v for k, v in freeze_summary(model).items() if k != "layers"}
    metrics["skipped_files"] = data.skipped
    scratch_metrics = None
    if cfg.compare_scratch:
        scratch_model = for_inference(run.best(build_backbone(cfg.backbone, num_classes, "none", size, freeze="none"),
                                               SCRATCH))
        scratch_metrics = evaluate_split(scratch_model, test, num_classes)
        metrics["scratch"] = {k: scratch_metrics[k] for k in ("accuracy", "class_accuracy", "n", "loss")}
        run.info(f"test accuracy: transfer {metrics['accuracy']:.4f}, from scratch {scratch_metrics['accuracy']:.4f}")

    from shinsou.transfer.report import report_sections

    run.report(f"shinsou · transfer {cfg.backbone} on {Path(str(cfg.data)).name}",
               report_sections(run.dir, config, history, stage2_history, scratch_history, metrics, scratch_metrics,
                               model, final, test, data.class_names))
    return metrics
