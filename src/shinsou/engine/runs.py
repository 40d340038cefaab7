"""Run directories: where a run's config, checkpoints, metrics and report live, and how a run
directory alone rebuilds its trained model (config.yaml + best.safetensors)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from shinsou.engine.checkpoint import BEST, LAST, TRAIN_STATE, load_weights
from shinsou.engine.config import load_run_config
from shinsou.errors import ConfigError, DataError

RUN_DIR_ENV = "SHINSOU_RUN_DIR"  # shared with DDP worker processes, which re-run the same command


@dataclass
class TrainResult:
    """What every `train_*` returns: the run directory, the test metrics (empty on DDP ranks other than 0)
    and the report's path (None on those ranks)."""
    run_dir: Path
    metrics: dict
    report: Path | None


def prepare_run_dir(out: str | None, pipeline: str) -> Path:
    """Create the run directory (default runs/PIPELINE-TIMESTAMP); refuse to overwrite a finished or
    interrupted run. DDP workers inherit the parent's choice through the environment."""
    inherited = os.environ.get(RUN_DIR_ENV)
    if inherited and os.environ.get("LOCAL_RANK", "0") != "0":  # a DDP worker started by Fabric
        return Path(inherited)
    run_dir = Path(out) if out else Path("runs") / f"{pipeline}-{time.strftime('%Y%m%d-%H%M%S')}"
    if (run_dir / TRAIN_STATE).exists():
        raise ConfigError(f"{run_dir} already holds a run (continue it with --resume {run_dir}, or choose another --out)")
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ[RUN_DIR_ENV] = str(run_dir)
    return run_dir


def load_run_model(run_dir: str | os.PathLike, which: str = "best") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a run from its config and load its best (or last) weights."""
    from shinsou.models import build_model

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    weights = run_dir / (BEST if which == "best" else LAST)
    if not weights.exists():
        raise DataError(f"{run_dir}: no {weights.name} (the run stopped before its first epoch ended)")
    model = build_model(config["model"], **config.get("model_options", {}))
    load_weights(model, weights)
    model.eval()
    return model, config


def write_json_atomic(path: Path, data: Any) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
    return path
