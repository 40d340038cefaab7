"""`shinsou explore traffic`: the road network and its readings before training, as a traffic paper's data section
shows them: sensors, segments, days and the chronological split, speeds per hour of day, odd readings, a map, one day."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from shinsou.engine.explore import write_explore  # noqa: E402
from shinsou.engine.report import Section, figure_path, save_figure  # noqa: E402
from shinsou.errors import ConfigError  # noqa: E402
from shinsou.traffic.config import Config  # noqa: E402
from shinsou.traffic.data import TrafficData, load_source  # noqa: E402
from shinsou.traffic.report import plot_network  # noqa: E402
from shinsou.traffic.windows import split_series, window_ends  # noqa: E402


def plot_hours(data: TrafficData, path: Path) -> Path:
    """Median speed and its 10-90% band at each time of day over all sensors, weekdays and weekends apart."""
    slots, weekend = data.slots(), data.weekend()
    hours = np.arange(data.steps_per_day) * data.step.total_seconds() / 3600
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for flag, label, colour in ((False, "weekdays", "#d1495b"), (True, "weekends", "#2e86ab")):
        rows = weekend == flag
        if not rows.any():
            continue
        q = np.full((3, data.steps_per_day), np.nan)
        for k in range(data.steps_per_day):
            at = data.values[rows & (slots == k)]
            if at.size:
                q[:, k] = np.percentile(at, (10, 50, 90))
        ax.fill_between(hours, q[0], q[2], color=colour, alpha=0.2, lw=0)
        ax.plot(hours, q[1], color=colour, lw=1.6, label=f"{label} (median, 10-90%)")
    ax.set_xlabel("hour of day")
    ax.set_ylabel(f"speed ({data.unit or 'data units'})")
    ax.set_xticks(range(0, 25, 3))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(f"speed per hour of day, all {data.network.num_nodes} sensors")
    return save_figure(fig, path)


def first_day(data: TrafficData) -> np.ndarray:
    """Time indices of the first whole weekday (else the first whole day, else the first day's worth of readings)."""
    slots, weekend = data.slots(), data.weekend()
    per_day = data.steps_per_day
    midnights = [m for m in np.flatnonzero(slots == 0) if m + per_day <= len(slots)]
    weekdays = [m for m in midnights if not weekend[m]]
    start = (weekdays or midnights or [0])[0]
    return np.arange(start, min(start + per_day, len(slots)))


def plot_sensors_day(data: TrafficData, path: Path, sensors: int = 4) -> Path:
    """The sensors whose speed varied most over one day (rush hours, incidents), reading by reading."""
    day = first_day(data)
    chosen = np.argsort(-data.values[day].std(0), kind="stable")[:sensors]
    times = data.timestamps[day]
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for j in chosen:
        ax.plot(times, data.values[day, j], lw=1.2, label=data.network.node_ids[j])
    ax.set_ylabel(f"speed ({data.unit or 'data units'})")
    ax.set_title(f"{times[0]:%a %Y-%m-%d}: the {len(chosen)} sensors whose speed varied most")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=len(chosen), loc="lower left")
    fig.autofmt_xdate()
    return save_figure(fig, path)


def split_table(data: TrafficData, cfg: Config) -> list[list] | None:
    """Rows: span, first and last reading, days, forecast windows (None when the data is too short to split)."""
    try:
        split = split_series(len(data.timestamps), data.steps_per_day, cfg.window, cfg.horizon, cfg.val_fraction,
                             cfg.test_fraction, data.source)
    except ConfigError:
        return None
    rows = [["span", "from", "to", "days", "windows"]]
    for name, (a, b) in (("training", split.train), ("validation", split.val), ("test", split.test)):
        rows.append([name, str(data.timestamps[a]), str(data.timestamps[b - 1]), round((b - a) / data.steps_per_day, 2),
                     len(window_ends((a, b), cfg.window, cfg.horizon))])
    return rows


def explore(cfg: Config, out: Path) -> dict:
    data = load_source(cfg.data, cfg.distances, cfg.sim_nodes, cfg.sim_days, cfg.sim_seed)
    net, values = data.network, data.values
    degree = np.bincount(net.edges.reshape(-1), minlength=net.num_nodes)  # segments touching each node
    zeros = int((values == 0).sum())
    stuck = [net.node_ids[j] for j in np.flatnonzero(values.std(0) == 0)]
    unit = f" ({data.unit})" if data.unit else ""
    summary = {"source": data.source, "sensors": net.num_nodes,
               "road segments": f"{len(net.edges)} {'directed' if net.directed else 'two-way'}",
               "sensors without a segment": int((degree == 0).sum()), "timestamps": len(data.timestamps),
               "step (min)": data.step.total_seconds() / 60, "days": round(len(data.timestamps) / data.steps_per_day, 2),
               "first reading": str(data.timestamps[0]), "last reading": str(data.timestamps[-1]),
               "readings": int(values.size),
               "missing readings": 0,  # the loaders refuse a gap: every sensor needs a reading at every timestamp
               "zero readings (METR-LA's mark for missing)": zeros,
               "sensors that never change": len(stuck),
               f"mean speed{unit}": round(float(values.mean()), 2),
               f"lowest, highest{unit}": f"{float(values.min()):g}, {float(values.max()):g}"}
    network = plot_network(data, values.mean(0), f"mean speed ({data.unit or 'data units'})",
                           figure_path(out, "network.png"))
    hours = plot_hours(data, figure_path(out, "speed_per_hour.png"))
    day = plot_sensors_day(data, figure_path(out, "sensors_day.png"))
    split = split_table(data, cfg)
    sections = [
        Section("Chronological split", text=[
            f"The last {cfg.test_fraction:.0%} of the series is the test span and the {cfg.val_fraction:.0%} before it "
            f"validation (whole days from 10 days on); windows of {cfg.window} readings forecast the next {cfg.horizon}."
            if split else f"Too few timestamps for windows of {cfg.window} + {cfg.horizon} readings in every span."],
            tables=[split] if split else []),
        Section("Speed per hour of day", figures=[hours]),
        Section("Road network", text=["Segments as lines (thicker = shorter, heavier weight), sensors coloured by "
                                      "their mean speed."], figures=[network]),
        Section("One day, reading by reading", figures=[day]),
    ]
    odd = []
    if zeros:
        per_sensor = (values == 0).sum(0)
        odd.append([["sensor", "zero readings"]] + [[net.node_ids[j], int(per_sensor[j])]
                                                      for j in np.argsort(-per_sensor, kind="stable")[:10] if per_sensor[j]])
    if stuck:
        odd.append([["sensor that never changes", "reading"]] + [[s, float(values[0, net.node_ids.index(s)])] for s in stuck[:10]])
    if odd or data.notes:
        sections.append(Section("Odd readings and data notes", text=list(data.notes), tables=odd))
    name = Path(cfg.data).name if cfg.data else "the simulated network"
    return write_explore(out, f"shinsou explore · traffic on {name}", summary, sections)
