"""The Python API that the `shinsou` command only wraps: `train(pipeline, **options) -> TrainResult`,
`load(run_dir) -> Predictor`, `runs(folder)`, `explore(pipeline, **options)`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from shinsou.engine.config import load_run_config
from shinsou.errors import DataError
from shinsou.pipelines import config_class, pipeline_part, require


def make_config(pipeline: str, config_file: str | os.PathLike | None = None, **options: Any):
    """The pipeline's Config: defaults <- YAML file <- options (None = not given); types checked here."""
    from shinsou.engine.config import resolve_config

    options = {k: str(v) if isinstance(v, Path) else v for k, v in options.items()}
    return resolve_config(config_class(pipeline), config_file, **options)


def train(pipeline: str, *, config: str | os.PathLike | None = None, resume: str | os.PathLike | None = None,
          log=None, **options: Any):
    """Train one run of `pipeline` (e.g. `train("mnist", data="digits/", epochs=5)`); returns a TrainResult
    with `run_dir`, `metrics` (the test split's) and `report` (the HTML report's path)."""
    from shinsou.engine.lifecycle import train_run

    train_module = pipeline_part(pipeline, "train")
    cfg = None if resume is not None else make_config(pipeline, config, **options)
    return train_run(pipeline, config_class(pipeline), train_module.train, cfg=cfg, resume=resume,
                     check=getattr(train_module, "check", None), log=log)


def run_pipeline(run_dir: str | os.PathLike) -> str:
    pipeline = load_run_config(run_dir).get("pipeline")
    if pipeline is None:
        raise DataError(f"{run_dir}: config.yaml names no pipeline")
    return pipeline


def load(run_dir: str | os.PathLike):
    """The run's Predictor: every artifact loaded once; `predict(inputs)`, `evaluate(data)`, `example_input()`."""
    return pipeline_part(run_pipeline(run_dir), "predictor").load(Path(run_dir))


def runs(folder: str | os.PathLike = "runs") -> list[dict]:
    """One row per run directory under `folder`: pipeline, started, epochs done of planned, main metric, status."""
    from shinsou.engine.runs import list_runs

    return list_runs(Path(folder))


def explore(pipeline: str, out: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
            **options: Any) -> dict:
    """A data report before training (counts, balance, samples, odd values, train/test duplicates) as HTML."""
    cfg = make_config(pipeline, config, **options)
    out = Path(out) if out else Path("runs") / f"explore-{pipeline}"
    out.mkdir(parents=True, exist_ok=True)
    return require(pipeline, "explore").explore(cfg, out)
