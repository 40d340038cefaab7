"""Training SegNet: per-pixel cross-entropy with median-frequency class balancing and Void ignored, as the SegNet
paper does; validation by global accuracy, class-average accuracy and mean IoU accumulated over the whole split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.trainer import make_schedule
from shinsou.errors import ConfigError
from shinsou.models import build_model
from shinsou.segnet.config import Config
from shinsou.segnet.data import PairedBatches, load_segmentation_data, median_frequency_weights, parse_size
from shinsou.segnet.predictor import make_forward, make_loss, test_scores
from shinsou.segnet.pretrained import load_vgg16_bn_encoder
from shinsou.segnet.scenes import default_scenes
from shinsou.segnet.segnet import parameter_count
from shinsou.segnet.transforms import eval_transform, train_transform

DEFAULT_SCENE_SIZE = (96, 128)


def parse_crop(text: str | None) -> tuple[int, int] | None:
    """'64x96' -> (64, 96); 'none' (or nothing) -> None, whole images."""
    return None if text is None or str(text).strip().lower() == "none" else parse_size(text)


def parse_scale(text: str) -> tuple[float, float]:
    """"0.8-1.25" -> (0.8, 1.25); "1" -> (1.0, 1.0)."""
    parts = str(text).split("-")
    try:
        low, high = (float(parts[0]), float(parts[-1])) if len(parts) in (1, 2) else (None, None)
    except ValueError:
        low = high = None
    if low is None or not 0 < low <= high:
        raise ConfigError(f"--scale must be MIN-MAX with 0 < MIN <= MAX (e.g. 0.8-1.25) or one number, got {text!r}")
    return low, high


def check(cfg: Config) -> None:
    """What can be checked before any data is read (choices and types are checked by the engine)."""
    for name in ("val_every", "scenes"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if cfg.weights is not None and cfg.model != "segnet":
        raise ConfigError(f"--weights applies to segnet only ({cfg.model} has no VGG16 encoder)")
    parse_scale(cfg.scale)
    stages = 5 if cfg.model == "segnet" else 4
    for flag, size in (("size", parse_size(cfg.size)), ("crop", parse_crop(cfg.crop))):
        if size is not None and min(size) < 2 ** stages:
            raise ConfigError(f"--{flag} {getattr(cfg, flag)} is too small for {cfg.model}: {stages} poolings need at least "
                              f"{2 ** stages} pixels a side")


def class_balance_weights(masks: np.ndarray, num_classes: int, kind: str) -> np.ndarray:
    """Per-class loss weights: median-frequency (the paper), its square root (rare classes still count more, but
    their predicted regions spread less past their edges), or all ones."""
    if kind == "none":
        return np.ones(num_classes)
    weights = median_frequency_weights(masks, num_classes)
    return np.sqrt(weights) if kind == "sqrt" else weights


def resolve_data(cfg: Config, log=lambda line: None) -> tuple[str, tuple[int, int] | None]:
    """The data folder to read (generating the default scenes into the cache when none is given) and the size."""
    size = parse_size(cfg.size)
    if cfg.data is not None:
        return cfg.data, size
    size = size or DEFAULT_SCENE_SIZE
    log(f"no --data: using {cfg.scenes} generated road scenes of {size[0]}x{size[1]} (shinsou data make-scenes)")
    return str(default_scenes(cfg.scenes, size, cfg.seed)), size


def make_optimizer(model: nn.Module, cfg: Config, steps_per_epoch: int):
    if cfg.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = make_schedule(optimizer, cfg.schedule, cfg.lr, cfg.epochs * steps_per_epoch, warmup=0.15)
    return optimizer, scheduler


def train(cfg: Config, run) -> dict:
    """Fit SegNet on the training split, keep the best validated epoch by mean IoU, score the test split."""
    data_path, size = resolve_data(cfg, run.info)
    data = load_segmentation_data(data_path, size, cfg.seed)
    palette, void = data.palette, data.palette.void_index
    height, width = data.train.images.shape[1:3]
    crop = parse_crop(cfg.crop)
    if crop is not None and (crop[0] > height or crop[1] > width):
        raise ConfigError(f"--crop {cfg.crop} is larger than the {height}x{width} training images")
    torch.manual_seed(cfg.seed)

    model_options = {"num_classes": palette.num_classes, "in_channels": 3, "input_size": [int(height), int(width)]}
    model = build_model(cfg.model, **model_options)
    class_weights = class_balance_weights(data.train.masks, palette.num_classes, cfg.class_balance)
    if not run.resuming:  # a resumed run keeps what it recorded (and its weights come from its checkpoint)
        encoder_source = load_vgg16_bn_encoder(model, cfg.weights) if cfg.weights else None
        run.record(model_options=model_options, data_used=data_path, layout=data.layout,
                   class_weights=[float(w) for w in class_weights], encoder_weights=encoder_source,
                   parameters=parameter_count(model), **palette.to_config())
    train_batches = PairedBatches(data.train, cfg.batch_size, train_transform(void, cfg.augment, crop, parse_scale(cfg.scale)),
                                  shuffle=True, seed=cfg.seed).shard(run.fabric.global_rank, run.fabric.world_size)
    val_batches = PairedBatches(data.val, cfg.batch_size, eval_transform)
    optimizer, scheduler = make_optimizer(model, cfg, len(train_batches))
    run.info(f"training {cfg.model} ({parameter_count(model) / 1e6:.2f}M parameters) on {len(data.train)} images of "
             f"{height}x{width} ({data.train.source}), validating on {len(data.val)}, {run.fabric.world_size} "
             f"process(es) on {run.fabric.device}, precision {run.precision}; run directory {run.dir}")
    loss_fn = make_loss(class_weights, void)
    new_metric = lambda: ConfusionMatrix(palette.num_classes, ignore_index=void)  # noqa: E731
    history = run.fit(model, optimizer, train_batches, val_batches, loss_fn=loss_fn, new_metric=new_metric,
                      scheduler=scheduler, forward=make_forward(), monitor="mean_iou", mode="max",
                      val_every=cfg.val_every)
    if not run.is_main:
        return {}

    final = run.best(build_model(cfg.model, **model_options))
    test_set = data.test if data.test is not None else data.val
    metrics = test_scores(final, test_set, loss_fn, new_metric, cfg.tta, cfg.batch_size)
    metrics.update(source=test_set.source, class_names=list(palette.names),
                   per_class_iou=dict(zip(palette.names, metrics["per_class"]["iou"])),
                   epochs_wall_s=round(sum(h.get("seconds", 0) for h in history), 1), threads=torch.get_num_threads())

    from shinsou.segnet.report import report_sections

    name = Path(cfg.data).name if cfg.data else "generated road scenes"
    run.report(f"shinsou · {cfg.model} on {name}",
               report_sections(run.dir, history, metrics, final, test_set, palette, cfg.tta,
                               parameter_count(final), [float(w) for w in class_weights]))
    return metrics
