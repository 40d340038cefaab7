"""Training T-GCN to forecast road speeds: Adam on the mean absolute error of standardised speeds (DCRNN's loss), a
cosine learning-rate schedule, chronological train/validation/test spans; the baselines are measured beside it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from shinsou.engine.checkpoint import BEST, load_weights
from shinsou.engine.config import load_run_config, resumed_config, save_run_config
from shinsou.engine.runs import TrainResult, prepare_run_dir
from shinsou.engine.trainer import fit, make_fabric
from shinsou.errors import ConfigError
from shinsou.traffic.data import load_source
from shinsou.traffic.metrics import ForecastError
from shinsou.traffic.pipeline import measure, summarize, write_metrics
from shinsou.traffic.report import write_traffic_report
from shinsou.traffic.windows import NUM_FEATURES, WindowBatches, model_inputs, split_series, window_ends
from shinsou.models import MODELS, build_model


@dataclass
class TrafficConfig:
    pipeline: str = "traffic"
    data: str | None = None  # a data folder (shinsou or METR-LA/PEMS-BAY layout) or speed table; None = simulate
    distances: str | None = None  # the `from,to,cost` CSV that goes with a speed table given as --data FILE
    model: str = "tgcn"
    window: int = 12  # past readings per forecast (an hour of 5-minute readings)
    horizon: int = 12  # readings forecast (the next hour)
    hidden: int = 64
    root_weight: bool = True  # each graph convolution also weighs the node itself apart (False: the paper's plain GCN)
    graph: bool = True  # False: an ablation that hides the road network (every node alone: a GRU per node)
    epochs: int = 12
    batch_size: int = 32
    lr: float = 0.003
    weight_decay: float = 0.0
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    seed: int = 0  # initialisation and shuffling
    sim_nodes: int = 36  # the simulator, when there is no --data
    sim_days: int = 28
    sim_seed: int = 0
    devices: int = 1
    precision: str = "32-true"  # float32: bf16 autocast gave no speed-up here and a recurrent regression wants the digits
    out: str | None = None


def check_config(cfg: TrafficConfig) -> None:
    traffic_models = sorted(name for name, (module, _) in MODELS.items() if module.startswith("shinsou.traffic"))
    if cfg.model not in traffic_models:
        raise ConfigError(f"unknown model {cfg.model!r} for traffic (known: {', '.join(traffic_models)})")
    for name in ("window", "horizon", "hidden", "epochs", "batch_size", "devices", "sim_days"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if cfg.sim_nodes < 2:
        raise ConfigError(f"--sim-nodes must be at least 2, got {cfg.sim_nodes}")
    if not cfg.lr > 0:
        raise ConfigError(f"--lr must be positive, got {cfg.lr}")
    if not (0 < cfg.val_fraction < 1 and 0 < cfg.test_fraction < 1 and cfg.val_fraction + cfg.test_fraction < 1):
        raise ConfigError("val_fraction and test_fraction must be between 0 and 1 and leave room for training")
    if cfg.distances is not None and cfg.data is None:
        raise ConfigError("--distances goes with --data (a METR-LA/PEMS-BAY speed table)")


def train_traffic(cfg: TrafficConfig, resume: str | Path | None = None, log=None) -> TrainResult:
    """Train (or resume) a traffic forecaster; returns the run directory and its test metrics with the baselines'."""
    log = log or (lambda line: print(line, file=sys.stderr))
    if resume is not None:
        run_dir = Path(resume)
        cfg = resumed_config(TrafficConfig, run_dir)
    check_config(cfg)
    data = load_source(cfg.data, cfg.distances, cfg.sim_nodes, cfg.sim_days, cfg.sim_seed)
    for note in data.notes:
        log(f"note: {note}")
    split = split_series(len(data.timestamps), data.steps_per_day, cfg.window, cfg.horizon, cfg.val_fraction,
                         cfg.test_fraction, data.source)
    if resume is None:
        run_dir = prepare_run_dir(cfg.out, "traffic")
    fabric = make_fabric(cfg.devices, precision=cfg.precision)

    # standardise with the training span's statistics only
    a, b = split.train
    mean, std = float(data.values[a:b].mean()), float(data.values[a:b].std()) or 1.0
    inputs, targets = model_inputs(data.values, data.timestamps, mean, std)  # (T, N, 4), (T, N)
    edge_index, edge_weight = data.network.edge_index()
    if not cfg.graph:  # the ablation: no edges, so each GCN layer sees only the node's own self loop
        edge_index, edge_weight = edge_index[:, :0], edge_weight[:0]
    options = {"num_nodes": data.network.num_nodes, "num_edges": int(edge_index.shape[1]), "in_features": NUM_FEATURES,
               "hidden": cfg.hidden, "window": cfg.window, "horizon": cfg.horizon, "root_weight": cfg.root_weight}
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, **options)
    model.set_graph(torch.from_numpy(edge_index), torch.from_numpy(edge_weight))

    train_ends = window_ends(split.train, cfg.window, cfg.horizon)
    val_ends = window_ends(split.val, cfg.window, cfg.horizon)
    train_batches = WindowBatches(inputs, targets, train_ends, cfg.window, cfg.horizon, cfg.batch_size, shuffle=True,
                                  seed=cfg.seed).shard(fabric.global_rank, fabric.world_size)
    val_batches = WindowBatches(inputs, targets, val_ends, cfg.window, cfg.horizon, 256)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * len(train_batches))

    step_minutes = data.step.total_seconds() / 60
    if fabric.is_global_zero and resume is None:
        save_run_config(run_dir, cfg, model_options=options, scaler={"mean": mean, "std": std},
                        node_ids=list(data.network.node_ids), step_minutes=step_minutes, unit=data.unit)
        edges = f"{len(data.network.edges)} edges" if cfg.graph else "the road network hidden (--no-graph)"
        log(f"training {cfg.model} on {data.source}: {data.network.num_nodes} nodes, {edges}, "
            f"{len(data.timestamps)} readings every {step_minutes:g} min; {len(train_ends)} training windows, "
            f"{len(val_ends)} validation, precision {cfg.precision}; run directory {run_dir}")
    history = fit(fabric, model, optimizer, train_batches, val_batches, loss_fn=nn.L1Loss(),
                  new_metric=lambda: ForecastError(cfg.horizon, mean, std), epochs=cfg.epochs, run_dir=run_dir,
                  scheduler=scheduler, seed=cfg.seed, resume=resume is not None, monitor="mae", mode="min", log=log)
    if not fabric.is_global_zero:
        return TrainResult(run_dir, {}, None)

    final = build_model(cfg.model, **options)
    load_weights(final, run_dir / BEST)
    forecasts = measure(final, data, mean, std, cfg.val_fraction, cfg.test_fraction)
    metrics = summarize(forecasts, data)
    write_metrics(run_dir, metrics)
    report = write_traffic_report(run_dir, load_run_config(run_dir), history, metrics, forecasts, data)
    return TrainResult(run_dir, metrics, report)

