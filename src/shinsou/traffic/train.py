"""Training T-GCN to forecast road speeds: Adam on the mean absolute error of standardised speeds (DCRNN's loss), a
cosine learning-rate schedule, chronological train/validation/test spans; the baselines are measured beside it."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from shinsou.errors import ConfigError
from shinsou.models import build_model
from shinsou.traffic.config import Config
from shinsou.traffic.data import load_source
from shinsou.traffic.evaluation import comparison_line, measure, summarize
from shinsou.traffic.metrics import ForecastError
from shinsou.traffic.windows import NUM_FEATURES, WindowBatches, model_inputs, split_series, window_ends


def check(cfg: Config) -> None:
    for name in ("window", "horizon", "hidden", "sim_days"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if cfg.sim_nodes < 2:
        raise ConfigError(f"--sim-nodes must be at least 2, got {cfg.sim_nodes}")
    if not (0 < cfg.val_fraction < 1 and 0 < cfg.test_fraction < 1 and cfg.val_fraction + cfg.test_fraction < 1):
        raise ConfigError("val_fraction and test_fraction must be between 0 and 1 and leave room for training")
    if cfg.distances is not None and cfg.data is None:
        raise ConfigError("--distances goes with --data (a METR-LA/PEMS-BAY speed table)")


def train(cfg: Config, run) -> dict:
    """Fit T-GCN on the training span, keep the epoch with the lowest validation MAE, measure it and both baselines
    on the test span."""
    data = load_source(cfg.data, cfg.distances, cfg.sim_nodes, cfg.sim_days, cfg.sim_seed)
    for note in data.notes:
        run.info(f"note: {note}")
    split = split_series(len(data.timestamps), data.steps_per_day, cfg.window, cfg.horizon, cfg.val_fraction,
                         cfg.test_fraction, data.source)

    # standardise with the training span's statistics only
    a, b = split.train
    mean, std = float(data.values[a:b].mean()), float(data.values[a:b].std()) or 1.0
    inputs, targets = model_inputs(data.values, data.timestamps, mean, std)  # (T, N, 4), (T, N)
    edge_index, edge_weight = data.network.edge_index()
    if not cfg.graph:  # the ablation: no edges, so each GCN layer sees only the node's own self loop
        edge_index, edge_weight = edge_index[:, :0], edge_weight[:0]
    options = {"num_nodes": data.network.num_nodes, "num_edges": int(edge_index.shape[1]), "in_features": NUM_FEATURES,
               "hidden": cfg.hidden, "window": cfg.window, "horizon": cfg.horizon, "root_weight": cfg.root_weight}
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank and in every repeat
    model = build_model(cfg.model, **options)
    model.set_graph(torch.from_numpy(edge_index), torch.from_numpy(edge_weight))

    train_ends = window_ends(split.train, cfg.window, cfg.horizon)
    val_ends = window_ends(split.val, cfg.window, cfg.horizon)
    train_batches = WindowBatches(inputs, targets, train_ends, cfg.window, cfg.horizon, cfg.batch_size, shuffle=True,
                                  seed=cfg.seed).shard(run.fabric.global_rank, run.fabric.world_size)
    val_batches = WindowBatches(inputs, targets, val_ends, cfg.window, cfg.horizon, 256)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * len(train_batches))

    step_minutes = data.step.total_seconds() / 60
    run.record(model_options=options, scaler={"mean": mean, "std": std}, node_ids=list(data.network.node_ids),
               step_minutes=step_minutes, unit=data.unit)
    edges = f"{len(data.network.edges)} edges" if cfg.graph else "the road network hidden (--no-graph)"
    run.info(f"training {cfg.model} on {data.source}: {data.network.num_nodes} nodes, {edges}, "
             f"{len(data.timestamps)} readings every {step_minutes:g} min; {len(train_ends)} training windows, "
             f"{len(val_ends)} validation, precision {run.precision}; run directory {run.dir}")
    history = run.fit(model, optimizer, train_batches, val_batches, loss_fn=nn.L1Loss(),
                      new_metric=lambda: ForecastError(cfg.horizon, mean, std), scheduler=scheduler,
                      monitor="mae", mode="min")
    if not run.is_main:
        return {}

    final = run.best(build_model(cfg.model, **options))  # the road network comes back from the checkpoint's buffers
    forecasts = measure(final, data, mean, std, cfg.val_fraction, cfg.test_fraction)
    metrics = summarize(forecasts, data)
    run.info(comparison_line(metrics))

    from shinsou.traffic.report import report_sections

    name = Path(cfg.data).name if cfg.data else "simulated network"
    run.report(f"shinsou · {cfg.model} traffic forecast on {name}",
               report_sections(run.dir, cfg, history, metrics, forecasts, data))
    return metrics
