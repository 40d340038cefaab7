"""`shinsou data make-traffic`: the simulator's road network and speeds written in shinsou's CSV layout (nodes.csv,
edges.csv, readings.csv, incidents.csv), the files `shinsou train traffic --data` reads. Light at import (no torch)."""

from __future__ import annotations

from pathlib import Path

import typer

from shinsou.console import console, print_json


def make_traffic_command(
    out: Path = typer.Option(..., "--out", help="Folder to write nodes.csv, edges.csv, readings.csv and incidents.csv into."),
    sim_nodes: int = typer.Option(36, "--sim-nodes", help="Intersections (each with a speed sensor) on a jittered street grid (as `train traffic --sim-nodes`)."),
    sim_days: int = typer.Option(28, "--sim-days", help="Days to simulate, starting on Monday 2024-01-01."),
    step_minutes: int = typer.Option(5, "--step-minutes", help="Minutes between readings (must divide a day)."),
    incidents_per_day: float = typer.Option(10.0, "--incidents-per-day", help="Expected incidents on a weekday across the network (half on weekends)."),
    sim_seed: int = typer.Option(0, "--sim-seed", help="Seed of the network and its traffic; the same seed writes the same files (and `train traffic` simulates the same data)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary of what was written."),
):
    """Simulate a road network's speeds (rush hours, spill-back, incidents, noise) as CSVs for `train traffic --data`."""
    from shinsou.errors import ConfigError
    from shinsou.traffic.data import write_csv_layout
    from shinsou.traffic.simulator import SimulatorConfig, simulate

    if sim_nodes < 2:
        raise ConfigError(f"--sim-nodes must be at least 2, got {sim_nodes}")
    if sim_days < 1:
        raise ConfigError(f"--sim-days must be at least 1, got {sim_days}")
    if step_minutes < 1 or 1440 % step_minutes:
        raise ConfigError(f"--step-minutes must divide 1440 (the minutes of a day), got {step_minutes}")
    if incidents_per_day < 0:
        raise ConfigError(f"--incidents-per-day must not be negative, got {incidents_per_day:g}")
    sim = simulate(SimulatorConfig(nodes=sim_nodes, days=sim_days, step_minutes=step_minutes, seed=sim_seed,
                                   incidents_per_day=incidents_per_day))
    folder = write_csv_layout(sim.data, out, sim.incidents)
    summary = {"out": str(folder), "nodes": sim_nodes, "edges": int(len(sim.data.network.edges)),
               "timestamps": int(len(sim.data.timestamps)), "readings": int(sim.data.values.size),
               "incidents": len(sim.incidents), "first": str(sim.data.timestamps[0]), "last": str(sim.data.timestamps[-1])}
    if as_json:
        print_json(summary)
        return
    console.print(f"wrote {folder}: {sim_nodes} nodes, {summary['edges']} road segments, {summary['readings']} readings "
                  f"({summary['first']} .. {summary['last']}), {summary['incidents']} incidents")


DATA_COMMANDS = {"make-traffic": make_traffic_command}
