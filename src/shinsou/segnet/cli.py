"""`shinsou train segnet` and `shinsou data make-scenes`: the command-line face of segnet/train.py and
scenes.py (flags over a YAML config over defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from shinsou.console import console, print_json


def train_segnet_command(
    data: Optional[Path] = typer.Option(None, "--data", help="CamVid-layout folder (train/ trainannot/ val/ valannot/ test/ testannot/) or images/ + labels/; masks as class-index or CamVid-colour PNGs, other classes via classes.json. Default: 400 generated road scenes (96x128)."),
    model: Optional[str] = typer.Option(None, "--model", help="segnet-basic (4+4 stages, 7x7, 64 channels; default) or segnet (VGG16-BN encoder, 29.4M parameters)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="segnet only: initialise the encoder from 'imagenet' (torchvision VGG16_BN_Weights, downloads) or FILE, a vgg16_bn state_dict (.pth/.pt or .safetensors)."),
    size: Optional[str] = typer.Option(None, "--size", help="HEIGHTxWIDTH to train at, e.g. 360x480 (images bilinear, masks nearest). Default: the data's own size."),
    crop: Optional[str] = typer.Option(None, "--crop", help="HEIGHTxWIDTH random training windows cut from each (scaled, flipped) image, e.g. 64x96: fewer pixels per step; evaluation uses whole images."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs to train (default 12)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per step and process (default 8)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate (default 0.003 with adam)."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="adam (AdamW, default) or sgd (momentum 0.9, as the paper)."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="onecycle (default), cosine or constant."),
    class_balance: Optional[str] = typer.Option(None, "--class-balance", help="median (median-frequency weights, as the paper; default), sqrt (their square root: fewer false positives around rare classes) or none."),
    scale: Optional[str] = typer.Option(None, "--scale", help="MIN-MAX random zoom of each training image and its mask (default 0.8-1.25); 1 keeps the pixels as they are (whole-pixel crops and flips only)."),
    val_every: Optional[int] = typer.Option(None, "--val-every", help="Validate after every N-th epoch and the last (default 1); the kept best weights come from validated epochs."),
    tta: Optional[bool] = typer.Option(None, "--tta/--no-tta", help="Test-time augmentation: score each test image and its mirror image and average the class probabilities (default on; the single-pass figures are reported beside them)."),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="Paired random scale, crop and flip of image and mask, plus brightness/contrast (default on)."),
    precision: Optional[str] = typer.Option(None, "--precision", help="auto (default: bf16 where the CPU/GPU computes bfloat16 natively, else 32), 32 or bf16 (autocast; the loss stays float32)."),
    scenes: Optional[int] = typer.Option(None, "--scenes", help="Without --data: how many training scenes to generate (default 400; +1/8 val, +1/4 test)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for splits, shuffling, augmentation, initialisation and generated scenes (default 0)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of config keys; flags override it."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/segnet-TIMESTAMP)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue an interrupted run directory to its planned epochs."),
    devices: Optional[int] = typer.Option(None, "--devices", help="Processes for data-parallel training (DDP via Lightning Fabric; gloo on CPU)."),
    as_json: bool = typer.Option(False, "--json", help="Print the test metrics as one JSON object."),
):
    """Train SegNet to label every pixel of road scenes; prints the paper's four measures and where the report is."""
    from shinsou.engine.config import resolve_config
    from shinsou.segnet.train import SegnetConfig, train_segnet

    cfg = resolve_config(SegnetConfig, config, data=str(data) if data else None, model=model, weights=weights,
                         size=size, crop=crop, scale=scale, epochs=epochs, val_every=val_every, batch_size=batch_size, lr=lr, optimizer=optimizer,
                         schedule=schedule, class_balance=class_balance, augment=augment, tta=tta, precision=precision,
                         scenes=scenes, seed=seed, out=str(out) if out else None, devices=devices)
    result = train_segnet(cfg, resume=resume)
    if result.report is None:
        return
    m = result.metrics
    if as_json:
        print_json({**m, "run_dir": str(result.run_dir), "report": str(result.report)})
        return
    console.print(f"test on {m['source']}: global accuracy [bold]{m['accuracy']:.4f}[/bold], class-average accuracy "
                  f"[bold]{m['class_accuracy']:.4f}[/bold], mean IoU [bold]{m['mean_iou']:.4f}[/bold]")
    if "single_pass" in m:
        s = m["single_pass"]
        console.print(f"(scored with each image's mirror image; one pass without it: global {s['accuracy']:.4f}, "
                      f"class average {s['class_accuracy']:.4f}, mean IoU {s['mean_iou']:.4f})")
    console.print("IoU per class: " + ", ".join(f"{name} {iou:.3f}" for name, iou in m["per_class_iou"].items()))
    t = m["timing"]
    console.print(f"time: {t['wall_s']:.0f} s wall, {t['cpu_s']:.0f} s CPU over {t['threads']} thread(s); report: {result.report}")


def make_scenes_command(
    out: Path = typer.Option(..., "--out", help="Folder to write train/ trainannot/ val/ valannot/ test/ testannot/ into (CamVid layout)."),
    n: int = typer.Option(400, "--n", help="Training scenes; val gets n/8 and test n/4 more unless --val/--test say otherwise."),
    size: str = typer.Option("96x128", "--size", help="HEIGHTxWIDTH of each scene (CamVid: 360x480)."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives the same scenes."),
    val: Optional[int] = typer.Option(None, "--val", help="Validation scenes (default n/8)."),
    test: Optional[int] = typer.Option(None, "--test", help="Test scenes (default n/4)."),
    masks: str = typer.Option("index", "--masks", help="index (one-channel class indices, Void = 11, as the SegNet tutorial's *annot folders) or colour (RGB, CamVid palette)."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts per split as JSON."),
):
    """Generate road scenes with their label maps: sky, buildings, road with lane markings, pavement, trees, poles and
    signs, fences, cars, pedestrians, cyclists; random perspective, lighting, occlusion and noise."""
    from shinsou.errors import ConfigError
    from shinsou.segnet.data import parse_size
    from shinsou.segnet.scenes import write_scenes

    shape = parse_size(size)
    for name, value in (("--n", n), ("--val", val), ("--test", test)):
        if value is not None and value < (1 if name == "--n" else 0):
            raise ConfigError(f"{name} must be at least {1 if name == '--n' else 0}, got {value}")
    if min(shape) < 16:
        raise ConfigError(f"--size {size} is too small: scenes need at least 16 pixels a side")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} already exists and is not an empty folder (choose another --out)")
    counts = write_scenes(out, n, shape, seed, val, test, masks)
    if as_json:
        print_json({"out": str(out), **counts, "size": size, "seed": seed, "masks": masks})
        return
    console.print(f"wrote {counts['train']} train, {counts['val']} val and {counts['test']} test scenes of {size} to {out}")
