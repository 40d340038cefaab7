"""Training SegNet: per-pixel cross-entropy with median-frequency class balancing and Void ignored, as the SegNet
paper does; validation by global accuracy, class-average accuracy and mean IoU accumulated over the whole split."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from shinsou.engine.checkpoint import BEST, load_weights
from shinsou.engine.config import load_run_config, resumed_config, save_run_config
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.runs import TrainResult, prepare_run_dir, write_json_atomic
from shinsou.engine.trainer import SCHEDULES, evaluate, fit, make_fabric, make_schedule
from shinsou.errors import ConfigError
from shinsou.models import build_model
from shinsou.segnet.data import PairedBatches, load_segmentation_data, median_frequency_weights, parse_size
from shinsou.segnet.predict import class_log_probs
from shinsou.segnet.pretrained import load_vgg16_bn_encoder
from shinsou.segnet.report import write_segnet_report
from shinsou.segnet.scenes import default_scenes
from shinsou.segnet.segnet import parameter_count
from shinsou.segnet.transforms import eval_transform, train_transform

SEGNET_MODELS = ("segnet", "segnet-basic")
OPTIMIZERS = ("adam", "sgd")
BALANCING = ("median", "sqrt", "none")
PRECISIONS = ("auto", "32", "bf16")
DEFAULT_SCENE_SIZE = (96, 128)


@dataclass
class SegnetConfig:
    pipeline: str = "segnet"
    data: str | None = None  # CamVid-layout or images/ + labels/ folder; None = generated road scenes
    model: str = "segnet-basic"
    weights: str | None = None  # segnet only: "imagenet" or a vgg16_bn state_dict file for the encoder
    size: str | None = None  # HxW to train at; default: the data's own size (generated scenes: 96x128)
    crop: str | None = None  # HxW random training windows (with augment); fewer pixels per step, same images
    scale: str = "0.8-1.25"  # MIN-MAX random zoom of the training images (with augment); "1" cuts whole-pixel windows
    epochs: int = 12
    val_every: int = 1  # validate after every N-th epoch (and the last); only validated epochs can become the best
    batch_size: int = 8
    lr: float = 0.003  # peak learning rate (Adam); the paper uses SGD at 0.1 with momentum 0.9
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    class_balance: str = "median"  # median-frequency balancing (Eigen & Fergus 2015), its square root, or "none"
    augment: bool = True
    tta: bool = True  # test scores: average each image's class probabilities with its mirror image's
    precision: str = "auto"  # "bf16": autocast, about 2x faster on CPUs with bfloat16 units; "auto": bf16 where those exist
    scenes: int = 400  # generated training scenes when no data is given (+ n/8 val, n/4 test)
    seed: int = 0
    devices: int = 1
    out: str | None = None


def check_config(cfg: SegnetConfig) -> None:
    for name, known in (("model", SEGNET_MODELS), ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                        ("class_balance", BALANCING), ("precision", PRECISIONS)):
        if str(getattr(cfg, name)) not in known:
            raise ConfigError(f"unknown {name.replace('_', ' ')} {getattr(cfg, name)!r} for segnet (known: {', '.join(known)})")
    for name in ("epochs", "val_every", "batch_size", "devices", "scenes"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if not cfg.lr > 0:
        raise ConfigError(f"--lr must be positive, got {cfg.lr}")
    if cfg.weights is not None and cfg.model != "segnet":
        raise ConfigError(f"--weights applies to segnet only ({cfg.model} has no VGG16 encoder)")
    parse_scale(cfg.scale)
    stages = 5 if cfg.model == "segnet" else 4
    for flag in ("size", "crop"):
        size = parse_size(getattr(cfg, flag))
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


def resolve_data(cfg: SegnetConfig, log) -> tuple[str, tuple[int, int] | None]:
    """The data folder to read (generating the default scenes into the cache when none is given) and the size."""
    size = parse_size(cfg.size)
    if cfg.data is not None:
        return cfg.data, size
    size = size or DEFAULT_SCENE_SIZE
    log(f"no --data: using {cfg.scenes} generated road scenes of {size[0]}x{size[1]} (shinsou data make-scenes)")
    return str(default_scenes(cfg.scenes, size, cfg.seed)), size


def make_forward(flip: bool = False):
    """forward(model, batch) for the engine's loop; Fabric's precision plugin autocasts the model, the loss stays
    float32. With `flip`, evaluation scores each image with its mirror image too (log-probabilities)."""

    def forward(model, batch):
        x, y = batch
        if flip and not model.training:
            return class_log_probs(model, x, flip=True), y
        return model(x).float(), y  # (B, K, H, W)

    return forward


FABRIC_PRECISION = {"auto": "auto", "32": "32-true", "bf16": "bf16-mixed"}


def test_scores(model: nn.Module, test_set, loss_fn, new_metric, tta: bool, batch_size: int = 8) -> dict:
    """The paper's measures on a whole set; with `tta` the headline figures average each image with its mirror
    image, and `single_pass` keeps the plain network's figures beside them."""
    batches = PairedBatches(test_set, batch_size, eval_transform)
    metrics = evaluate(model, batches, loss_fn, new_metric, make_forward(flip=tta))
    metrics["tta"] = "flip" if tta else "none"
    if tta:
        plain = evaluate(model, batches, loss_fn, new_metric, make_forward())
        metrics["single_pass"] = {k: plain[k] for k in ("accuracy", "class_accuracy", "mean_iou")}
    return metrics


def make_optimizer(model: nn.Module, cfg: SegnetConfig, steps_per_epoch: int):
    if cfg.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = make_schedule(optimizer, cfg.schedule, cfg.lr, cfg.epochs * steps_per_epoch, warmup=0.15)
    return optimizer, scheduler


def make_loss(weights, void_index: int) -> nn.Module:
    """Per-pixel softmax cross-entropy, classes weighted, Void pixels contributing nothing."""
    return nn.CrossEntropyLoss(weight=torch.as_tensor(weights, dtype=torch.float32), ignore_index=void_index)


def train_segnet(cfg: SegnetConfig, resume: str | Path | None = None, log=None) -> TrainResult:
    """Train (or resume) a SegNet; returns the run directory and its test metrics."""
    log = log or (lambda line: print(line, file=sys.stderr))
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    if resume is not None:
        run_dir = Path(resume)
        cfg = resumed_config(SegnetConfig, run_dir)
    check_config(cfg)
    data_path, size = resolve_data(cfg, log)
    data = load_segmentation_data(data_path, size, cfg.seed)
    palette, void = data.palette, data.palette.void_index
    height, width = data.train.images.shape[1:3]
    crop = parse_size(cfg.crop)
    if crop is not None and (crop[0] > height or crop[1] > width):
        raise ConfigError(f"--crop {cfg.crop} is larger than the {height}x{width} training images")
    if resume is None:
        run_dir = prepare_run_dir(cfg.out, "segnet")
    fabric = make_fabric(cfg.devices, precision=FABRIC_PRECISION[cfg.precision])
    torch.manual_seed(cfg.seed)

    model_options = {"num_classes": palette.num_classes, "in_channels": 3, "input_size": [int(height), int(width)]}
    model = build_model(cfg.model, **model_options)
    encoder_source = load_vgg16_bn_encoder(model, cfg.weights) if cfg.weights and resume is None else None
    class_weights = class_balance_weights(data.train.masks, palette.num_classes, cfg.class_balance)
    train_batches = PairedBatches(data.train, cfg.batch_size, train_transform(void, cfg.augment, crop, parse_scale(cfg.scale)), shuffle=True,
                                  seed=cfg.seed).shard(fabric.global_rank, fabric.world_size)
    val_batches = PairedBatches(data.val, cfg.batch_size, eval_transform)
    optimizer, scheduler = make_optimizer(model, cfg, len(train_batches))
    if fabric.is_global_zero and resume is None:
        save_run_config(run_dir, cfg, model_options=model_options, data_used=data_path, layout=data.layout,
                        class_weights=[float(w) for w in class_weights], encoder_weights=encoder_source,
                        parameters=parameter_count(model), **palette.to_config())
        log(f"training {cfg.model} ({parameter_count(model) / 1e6:.2f}M parameters) on {len(data.train)} images of "
            f"{height}x{width} ({data.train.source}), validating on {len(data.val)}, {fabric.world_size} process(es) "
            f"on {fabric.device}; run directory {run_dir}")
    loss_fn = make_loss(class_weights, void)
    new_metric = lambda: ConfusionMatrix(palette.num_classes, ignore_index=void)  # noqa: E731
    forward = make_forward()
    history = fit(fabric, model, optimizer, train_batches, val_batches, loss_fn=loss_fn, new_metric=new_metric,
                  epochs=cfg.epochs, run_dir=run_dir, scheduler=scheduler, forward=forward, monitor="mean_iou",
                  mode="max", seed=cfg.seed, resume=resume is not None, log=log, val_every=cfg.val_every)
    if not fabric.is_global_zero:
        return TrainResult(run_dir, {}, None)

    final = build_model(cfg.model, **model_options)
    load_weights(final, run_dir / BEST)
    test_set = data.test if data.test is not None else data.val
    test_metrics = test_scores(final, test_set, loss_fn, new_metric, cfg.tta, cfg.batch_size)
    test_metrics.update(source=test_set.source, class_names=list(palette.names),
                        per_class_iou=dict(zip(palette.names, test_metrics["per_class"]["iou"])))
    test_metrics["timing"] = {  # this process, data generation and loading included; CPU time counts every thread
        "wall_s": round(time.perf_counter() - started_wall, 1), "cpu_s": round(time.process_time() - started_cpu, 1),
        "epochs_wall_s": round(sum(h.get("seconds", 0) for h in history), 1), "threads": torch.get_num_threads()}
    write_json_atomic(run_dir / "metrics.json", _json_safe(test_metrics))
    report = write_segnet_report(run_dir, load_run_config(run_dir), history, test_metrics, final, test_set, palette)
    return TrainResult(run_dir, test_metrics, report)


def _json_safe(metrics: dict) -> dict:
    from shinsou.console import clean_for_json

    return clean_for_json(metrics)
