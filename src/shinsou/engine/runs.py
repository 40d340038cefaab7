"""Run directories: where a run's config, checkpoints, metrics and report live, and how a run
directory alone rebuilds its trained model (config.yaml + best.safetensors)."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from shinsou.engine.checkpoint import BEST, LAST, TRAIN_STATE, load_weights
from shinsou.engine.config import load_run_config
from shinsou.errors import ConfigError, DataError, ShinsouError

RUN_DIR_ENV = "SHINSOU_RUN_DIR"  # shared with DDP worker processes, which re-run the same command
RUN_STATUS = "run.json"  # pipeline, started, updated, status (running | interrupted | finished), planned epochs


@dataclass
class TrainResult:
    """What every `train_*` returns: the run directory, the test metrics (empty on DDP ranks other than 0)
    and the report's path (None on those ranks)."""
    run_dir: Path
    metrics: dict
    report: Path | None
    main_metric: str = "accuracy"


def prepare_run_dir(out: str | None, pipeline: str) -> Path:
    """Create the run directory (default runs/PIPELINE-TIMESTAMP); refuse to overwrite a finished or
    interrupted run. DDP workers inherit the parent's choice through the environment."""
    inherited = os.environ.get(RUN_DIR_ENV)
    if inherited and os.environ.get("LOCAL_RANK", "0") != "0":  # a DDP worker started by Fabric
        return Path(inherited)
    run_dir = Path(out) if out else Path("runs") / f"{pipeline}-{time.strftime('%Y%m%d-%H%M%S')}"
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir} is a file; give a folder for the run directory")
    if run_dir.is_dir() and any(run_dir.rglob(TRAIN_STATE)):
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


def write_status(run_dir: Path, pipeline: str, status: str, **extra: Any) -> None:
    previous = read_status(run_dir)
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    write_json_atomic(Path(run_dir) / RUN_STATUS, {"pipeline": pipeline, "started": previous.get("started", now),
                                                  "updated": now, "status": status, "pid": os.getpid(),
                                                  "host": socket.gethostname(), **extra})


def read_status(run_dir: Path) -> dict:
    path = Path(run_dir) / RUN_STATUS
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}


MAIN_METRICS = ("accuracy", "mean_iou", "roc_auc", "mae", "rmse")


def list_runs(folder: Path) -> list[dict]:
    """Every run directory under `folder` (searched two levels deep): pipeline, started, epochs done of planned,
    main test metric, and whether it finished or was interrupted (and so can be resumed)."""
    from shinsou.engine.config import CONFIG_FILE, read_yaml

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of runs")
    rows = []
    candidates = sorted({p.parent for p in folder.glob(CONFIG_FILE)} | {p.parent for p in folder.glob(f"*/{CONFIG_FILE}")})
    for run_dir in candidates:
        try:
            config = read_yaml(run_dir / CONFIG_FILE)
        except ShinsouError:
            continue
        if "pipeline" not in config:
            continue
        status = read_status(run_dir)
        metrics = _read_json(run_dir / "metrics.json")
        done = _epochs_done(run_dir)
        main = status.get("main_metric") or next((m for m in MAIN_METRICS if isinstance(metrics.get(m), (int, float))), None)
        if (run_dir / "metrics.json").exists() and status.get("status", "finished") == "finished":
            state = "finished"
        elif status.get("status") == "running" and _alive(status):
            state = "running"
        elif any(run_dir.rglob(TRAIN_STATE)):
            state = "interrupted (resumable)"
        else:
            state = "no checkpoint"
        rows.append({"run": str(run_dir), "pipeline": config["pipeline"], "started": status.get("started", ""),
                     "epochs": done, "planned": status.get("planned_epochs", config.get("epochs")),
                     "metric": main, "value": metrics.get(main) if main else None, "status": state})
    return rows


def _alive(status: dict) -> bool:
    """Whether the process that wrote a `running` status still runs (on this machine; elsewhere we cannot tell)."""
    if status.get("host") != socket.gethostname():
        return status.get("host") is not None
    try:
        os.kill(int(status.get("pid", -1)), 0)
    except (OSError, ValueError):
        return False
    return True


def _epochs_done(run_dir: Path) -> int | None:
    from shinsou.engine.checkpoint import load_train_state

    """Epochs finished over the run and all its stages (an ensemble's members, a second stage)."""
    states = sorted(run_dir.rglob(TRAIN_STATE))
    if not states:
        return None
    try:
        return sum(len(load_train_state(state)["history"]) for state in states)
    except DataError:
        return None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        return {}
