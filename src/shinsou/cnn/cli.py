"""`shinsou train mnist`: the command-line face of cnn/train.py (flags over a YAML config over defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from shinsou.console import console


def train_mnist_command(
    data: Optional[Path] = typer.Option(None, "--data", help="MNIST-layout folder (train-images-idx3-ubyte[.gz], ...) or Kaggle CSV (label,pixel0..pixel783). Default: the embedded 2,000-digit sample."),
    model: Optional[str] = typer.Option(None, "--model", help="lenet-caffe (28x28, default), lenet5 (32x32) or lenet-bn (lenet-caffe with batch norm, ReLU and dropout)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs to train (default 40)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per step and process (default 64)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate of the one-cycle schedule (default 0.03)."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="onecycle (default), cosine or constant."),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="Small random affine augmentation (default on)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for splits, shuffling, augmentation and initialisation (default 0)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of config keys; flags override it."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/mnist-TIMESTAMP)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue an interrupted run directory to its planned epochs."),
    devices: Optional[int] = typer.Option(None, "--devices", help="Processes for data-parallel training (DDP via Lightning Fabric; gloo on CPU)."),
    precision: Optional[str] = typer.Option(None, "--precision", help="auto (bf16 autocast where the CPU/GPU has native bf16, else float32), 32-true, bf16-mixed or 16-mixed."),
):
    """Train LeNet on MNIST-family digits; prints the test accuracy and where the report is."""
    from shinsou.cnn.train import MnistConfig, train_mnist
    from shinsou.engine.config import resolve_config

    cfg = resolve_config(MnistConfig, config, data=str(data) if data else None, model=model, epochs=epochs,
                         batch_size=batch_size, lr=lr, schedule=schedule, augment=augment, seed=seed,
                         out=str(out) if out else None, devices=devices,
                         precision=precision)
    result = train_mnist(cfg, resume=resume)
    if result.report is not None:
        m = result.metrics
        console.print(f"test accuracy [bold]{m['accuracy']:.4f}[/bold] on {m['n']} images ({m['source']})")
        console.print(f"report: {result.report}")
