"""The run lifecycle, written once for every pipeline: resume -> run directory -> Fabric -> config.yaml ->
the pipeline's own `train(cfg, run)` -> metrics.json -> status; checkpoints, TensorBoard scalars and the report
go through the `Run` handed to the pipeline, so no pipeline repeats any of it."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from torch import nn

from shinsou.console import clean_for_json
from shinsou.engine.checkpoint import BEST, LAST, TRAIN_STATE, copy_atomic, load_train_state, load_weights
from shinsou.engine.config import load_run_config, resumed_config, save_run_config, update_run_config
from shinsou.engine.evaluation import default_forward
from shinsou.engine.runs import (RUN_STATUS, TrainResult, prepare_run_dir, read_status, write_json_atomic,
                                 write_status)
from shinsou.errors import ConfigError


@dataclass
class Run:
    """What a pipeline's `train(cfg, run)` gets: where the run lives, the Fabric that decides device, precision
    and DDP, and the engine's fit / checkpoint / report steps. `run.dir` is the same on every DDP rank."""

    dir: Path
    cfg: Any
    fabric: Any
    pipeline: str
    resuming: bool
    log: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))
    report_path: Path | None = None
    main_metric: str = "accuracy"  # what the summary line and `shinsou runs` show; a run may change it (regression)
    planned_epochs: int | None = None  # epochs of all its stages together, for `shinsou runs`; default cfg.epochs

    @property
    def is_main(self) -> bool:
        return self.fabric.is_global_zero

    @property
    def precision(self) -> str:
        from shinsou.engine.trainer import resolve_precision

        return resolve_precision(self.cfg.precision)

    def info(self, line: str) -> None:
        """A progress line from rank 0 only."""
        if self.is_main:
            self.log(line)

    def plan(self, epochs: int, main_metric: str | None = None) -> None:
        """Say how many epochs the whole run has (an ensemble: members x epochs) and, where it is not the pipeline's
        usual one, which metric is the run's main one."""
        self.planned_epochs = epochs
        if main_metric:
            self.main_metric = main_metric
        if self.is_main:
            write_status(self.dir, self.pipeline, "running", planned_epochs=epochs, main_metric=self.main_metric)

    def record(self, **extra: Any) -> None:
        """Keys a Predictor needs to rebuild the run (class names, model options...), added to config.yaml."""
        if self.is_main:
            update_run_config(self.dir, **clean_for_json(extra))

    def stage_dir(self, stage: str = "") -> Path:
        path = self.dir / stage if stage else self.dir
        path.mkdir(parents=True, exist_ok=True)
        return path

    def fit(self, model: nn.Module, optimizer, train_batches, val_batches, *, loss_fn, new_metric, epochs: int | None = None,
            stage: str = "", scheduler=None, scheduler_per_step: bool = True, forward=default_forward,
            monitor: str = "accuracy", mode: str = "max", val_every: int = 1, keep: str = "best") -> list[dict]:
        """The engine's training loop over one model. Several models in one run are fit as `stage`s (sub-directories
        with their own checkpoints); each resumes on its own. `keep="last"` makes the final epoch the kept weights."""
        from shinsou.engine.trainer import fit

        stage_dir = self.stage_dir(stage)
        epochs = self.cfg.epochs if epochs is None else epochs
        history = fit(self.fabric, model, optimizer, train_batches, val_batches, loss_fn=loss_fn, new_metric=new_metric,
                      epochs=epochs, run_dir=stage_dir, scheduler=scheduler, scheduler_per_step=scheduler_per_step,
                      forward=forward, monitor=monitor, mode=mode, seed=self.cfg.seed,
                      resume=(stage_dir / TRAIN_STATE).exists(), log=self.log, val_every=val_every, tag=stage)
        if keep == "last" and self.is_main:
            copy_atomic(stage_dir / LAST, stage_dir / BEST)
        self.fabric.barrier()
        return history

    def best(self, model: nn.Module, stage: str = "") -> nn.Module:
        """`model` with the kept weights of the run (or of one stage), in eval mode."""
        load_weights(model, self.stage_dir(stage) / BEST)
        return model.eval()

    def history(self, stage: str = "") -> list[dict]:
        return load_train_state(self.stage_dir(stage) / TRAIN_STATE)["history"]

    def path(self, name: str) -> Path:
        """Where an artifact of the run (a forest as JSON, an encoder's vocabulary...) is written."""
        return self.dir / name

    def report(self, title: str, sections: list) -> Path:
        """RUN_DIR/report.html from the pipeline's sections, with the resolved config appended."""
        from shinsou.engine.report import Section, write_report

        self.report_path = write_report(self.dir, title, [*sections, Section("Config", tables=[load_run_config(self.dir)])])
        return self.report_path


def train_run(pipeline: str, config_class: type, train_fn: Callable, cfg: Any = None, resume: str | Path | None = None,
              check: Callable | None = None, log: Callable[[str], None] | None = None) -> TrainResult:
    """Train (or resume) one run of `pipeline`: everything around the pipeline's `train_fn(cfg, run) -> metrics`."""
    from shinsou.engine.trainer import make_fabric

    log = log or (lambda line: print(line, file=sys.stderr))
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    if resume is not None:
        run_dir = Path(resume)
        saved = load_run_config(run_dir).get("pipeline")
        if saved != pipeline:
            raise ConfigError(f"{run_dir} is a {saved!r} run, not {pipeline!r}; resume it with "
                              f"`shinsou train {saved} --resume {run_dir}`")
        states = training_states(run_dir)
        if not states:
            raise ConfigError(f"{run_dir}: nothing to resume (no {TRAIN_STATE}: the run stopped before its first epoch ended)")
        for state in states:
            load_train_state(state)  # a corrupt state fails here, in one line, before any work
        if read_status(run_dir).get("status") == "finished":
            raise ConfigError(f"{run_dir} is finished; train a new run instead")
        cfg = resumed_config(config_class, run_dir)
    elif cfg is None:
        cfg = config_class()
    check_common(cfg)
    if check is not None:
        check(cfg)
    created = resume is None and not (Path(cfg.out).exists() if cfg.out else False)
    run_dir = Path(resume) if resume is not None else prepare_run_dir(cfg.out, pipeline)
    fabric = make_fabric(cfg.devices, precision=cfg.precision, loggers=tensorboard_logger(run_dir))
    if fabric.is_global_zero and resume is None:
        save_run_config(run_dir, cfg, pipeline=pipeline)
    main_metric = getattr(config_class, "main_metric", "accuracy")
    if fabric.is_global_zero:
        write_status(run_dir, pipeline, "running", planned_epochs=cfg.epochs, main_metric=main_metric)
    run = Run(run_dir, cfg, fabric, pipeline, resume is not None, log, main_metric=main_metric)
    try:
        metrics = train_fn(cfg, run)
    except BaseException as error:
        if fabric.is_global_zero:
            if created and not _has_checkpoint(run_dir):  # nothing worth keeping: leave no half-made run behind
                shutil.rmtree(run_dir, ignore_errors=True)
            elif run_dir.exists():
                write_status(run_dir, pipeline, "interrupted", planned_epochs=run.planned_epochs or cfg.epochs,
                             main_metric=run.main_metric, reason=error.__class__.__name__)
        raise
    finally:
        for logger in fabric.loggers:
            logger.finalize("success")
    if not fabric.is_global_zero:
        return TrainResult(run_dir, {}, None)
    metrics = dict(metrics or {})
    metrics.setdefault("timing", {"wall_s": round(time.perf_counter() - started_wall, 1),
                                  "cpu_s": round(time.process_time() - started_cpu, 1)})
    write_json_atomic(run_dir / "metrics.json", clean_for_json(metrics))
    write_status(run_dir, pipeline, "finished", planned_epochs=run.planned_epochs or cfg.epochs,
                 main_metric=run.main_metric)
    return TrainResult(run_dir, metrics, run.report_path, run.main_metric)


def check_common(cfg: Any) -> None:
    """The checks every pipeline's common options need, before any data is read."""
    for name in ("epochs", "batch_size", "devices"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if not cfg.lr > 0:
        raise ConfigError(f"--lr must be positive, got {cfg.lr}")
    if cfg.out is not None and Path(cfg.out).exists() and not Path(cfg.out).is_dir():
        raise ConfigError(f"--out {cfg.out} is a file; give a folder for the run directory")


def tensorboard_logger(run_dir: Path):
    """Fabric's TensorBoard logger writing into RUN_DIR/tensorboard (`tensorboard --logdir runs` finds every run)."""
    from lightning_fabric.loggers import TensorBoardLogger

    return TensorBoardLogger(root_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False)


def training_states(run_dir: Path) -> list[Path]:
    """The run's resumable training states: RUN_DIR/train_state.pt and those of its stages (RUN_DIR/STAGE/...)."""
    return sorted(Path(run_dir).rglob(TRAIN_STATE))


def _has_checkpoint(run_dir: Path) -> bool:
    return bool(training_states(run_dir))
