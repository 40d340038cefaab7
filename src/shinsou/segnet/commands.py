"""`shinsou data make-scenes`: generated road scenes with exact label maps in the CamVid layout the SegNet tutorial
ships (train/ trainannot/ val/ valannot/ test/ testannot/), what `shinsou train segnet --data` reads. Light at import."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from shinsou.console import console, print_json


def make_scenes_command(
    out: Path = typer.Option(..., "--out", help="Folder to write train/ trainannot/ val/ valannot/ test/ testannot/ into (CamVid layout)."),
    n: int = typer.Option(400, "--n", help="Training scenes; val gets n/8 and test n/4 more unless --val/--test say otherwise (about 0.03 s a scene)."),
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


DATA_COMMANDS = {"make-scenes": make_scenes_command}
