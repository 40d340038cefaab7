"""`shinsou train traffic` and `shinsou data make-traffic`: the command-line face of traffic/train.py and
simulator.py (flags over a YAML config over defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from shinsou.console import console, print_json


def train_traffic_command(
    data: Optional[Path] = typer.Option(None, "--data", help="A folder with nodes.csv (id[,x,y]), edges.csv (source,target,length) and readings.csv (timestamp,node,value); or a METR-LA/PEMS-BAY folder (speed table .csv, or .h5 with PyTables, plus the from,to,cost distances CSV); or the speed table itself. Default: the built-in simulator."),
    distances: Optional[Path] = typer.Option(None, "--distances", help="The DCRNN sensor-distance CSV (from,to,cost) for a speed table given as --data FILE."),
    model: Optional[str] = typer.Option(None, "--model", help="Forecasting model (default tgcn: GCN gates inside a GRU, Zhao et al. 2019)."),
    window: Optional[int] = typer.Option(None, "--window", help="Past readings the model sees per forecast (default 12: one hour of 5-minute readings)."),
    horizon: Optional[int] = typer.Option(None, "--horizon", help="Readings to forecast (default 12: the next hour)."),
    hidden: Optional[int] = typer.Option(None, "--hidden", help="GRU state size per node (default 64)."),
    root_weight: Optional[bool] = typer.Option(None, "--root-weight/--no-root-weight", help="Give each node's own state a weight apart from its neighbourhood's in every graph convolution (default on; off = the paper's plain GCN gates)."),
    graph: Optional[bool] = typer.Option(None, "--graph/--no-graph", help="--no-graph hides the road network from the model (an ablation: a GRU per node), to measure what the graph adds."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs to train (default 12)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Windows per step and process (default 32)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Adam's learning rate at the start of the cosine schedule (default 0.003)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for initialisation and shuffling (default 0)."),
    sim_nodes: Optional[int] = typer.Option(None, "--sim-nodes", help="Simulator (no --data): intersections in the network (default 36)."),
    sim_days: Optional[int] = typer.Option(None, "--sim-days", help="Simulator: days of 5-minute readings (default 28; the last 20% are held out)."),
    sim_seed: Optional[int] = typer.Option(None, "--sim-seed", help="Simulator: seed of the network and its traffic (default 0)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of config keys; flags override it."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/traffic-TIMESTAMP)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue an interrupted run directory to its planned epochs."),
    devices: Optional[int] = typer.Option(None, "--devices", help="Processes for data-parallel training (DDP via Lightning Fabric; gloo on CPU)."),
    precision: Optional[str] = typer.Option(None, "--precision", help="32-true (default), auto (bf16 autocast where the hardware has it), bf16-mixed or 16-mixed."),
    as_json: bool = typer.Option(False, "--json", help="Print the test metrics as one JSON object (mae, rmse, baselines...)."),
):
    """Train a spatio-temporal GCN (T-GCN) to forecast road speeds; prints its test MAE beside the two baselines."""
    from shinsou.engine.config import resolve_config
    from shinsou.traffic.train import TrafficConfig, train_traffic

    cfg = resolve_config(TrafficConfig, config, data=str(data) if data else None,
                         distances=str(distances) if distances else None, model=model, window=window, horizon=horizon,
                         hidden=hidden, root_weight=root_weight, graph=graph, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, sim_nodes=sim_nodes,
                         sim_days=sim_days, sim_seed=sim_seed, out=str(out) if out else None, devices=devices,
                         precision=precision)
    result = train_traffic(cfg, resume=resume)
    if result.report is None:
        return
    m = result.metrics
    if as_json:
        print_json({**m, "run_dir": str(result.run_dir), "report": str(result.report)})
        return
    print_errors(m)
    console.print(f"report: {result.report}")


def print_errors(m: dict) -> None:
    from shinsou.traffic.pipeline import report_steps

    steps = report_steps(m["horizon"], m["step_minutes"])
    table = Table(title=f"test MAE ({m['unit'] or 'data units'}) over {m['test_days']:g} held-out days, {m['n_windows']} windows")
    table.add_column("forecast")
    for s in steps:
        table.add_column(f"{s * m['step_minutes']:g} min", justify="right")
    table.add_column("mean", justify="right")
    table.add_column("RMSE", justify="right")
    for name, stats in (("T-GCN", m), ("last value", m["baselines"]["last_value"]),
                        ("historical average", m["baselines"]["historical_average"])):
        table.add_row(name, *[f"{stats['mae_per_step'][s - 1]:.3f}" for s in steps], f"{stats['mae']:.3f}", f"{stats['rmse']:.3f}")
    console.print(table)


def make_traffic_command(
    out: Path = typer.Option(..., "--out", help="Folder to write nodes.csv, edges.csv, readings.csv and incidents.csv into."),
    nodes: int = typer.Option(36, "--nodes", help="Intersections (each with a speed sensor) on a jittered street grid."),
    days: int = typer.Option(28, "--days", help="Days to simulate, starting on Monday 2024-01-01."),
    step_minutes: int = typer.Option(5, "--step-minutes", help="Minutes between readings (must divide a day)."),
    incidents_per_day: float = typer.Option(10.0, "--incidents-per-day", help="Expected incidents on a weekday across the network (half on weekends)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the network and its traffic; the same seed writes the same files."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary of what was written."),
):
    """Simulate a road network's speeds (rush hours, spill-back, incidents, noise) as CSVs for `train traffic --data`."""
    from shinsou.errors import ConfigError
    from shinsou.traffic.data import write_csv_layout
    from shinsou.traffic.simulator import SimulatorConfig, simulate

    if nodes < 2 or days < 1 or step_minutes < 1 or 1440 % step_minutes or incidents_per_day < 0:
        raise ConfigError("--nodes must be >= 2, --days >= 1, --step-minutes must divide 1440, --incidents-per-day >= 0")
    sim = simulate(SimulatorConfig(nodes=nodes, days=days, step_minutes=step_minutes, seed=seed,
                                   incidents_per_day=incidents_per_day))
    folder = write_csv_layout(sim.data, out, sim.incidents)
    summary = {"out": str(folder), "nodes": nodes, "edges": int(len(sim.data.network.edges)),
               "timestamps": int(len(sim.data.timestamps)), "readings": int(sim.data.values.size),
               "incidents": len(sim.incidents), "first": str(sim.data.timestamps[0]), "last": str(sim.data.timestamps[-1])}
    if as_json:
        print_json(summary)
        return
    console.print(f"wrote {folder}: {nodes} nodes, {summary['edges']} road segments, {summary['readings']} readings "
                  f"({summary['first']} .. {summary['last']}), {summary['incidents']} incidents")
