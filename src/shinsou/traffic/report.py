"""The traffic run report's sections: MAE/RMSE per horizon for T-GCN, last value and historical average; learning
curves; predicted against actual speeds for a few nodes over a held-out day; the road network drawn with each node's error."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from shinsou.engine.report import Section, figure_path, plot_curves, save_figure  # noqa: E402
from shinsou.traffic.data import TrafficData  # noqa: E402
from shinsou.traffic.evaluation import Forecasts, report_steps  # noqa: E402

NAMES = {"model": "T-GCN", "last_value": "last value", "historical_average": "historical average"}
COLOURS = {"actual": "#222222", "model": "#d1495b", "last_value": "#8d99ae", "historical_average": "#2e86ab"}


def error_table(metrics: dict) -> list[list]:
    """Rows: forecaster; columns: MAE and RMSE at 15/30/60 minutes ahead (where the horizon reaches) and overall."""
    minutes = metrics["step_minutes"]
    steps = report_steps(metrics["horizon"], minutes)
    unit = f" ({metrics['unit']})" if metrics.get("unit") else ""
    header = ["forecast"] + [f"MAE {s * minutes:g} min" for s in steps] + [f"MAE mean{unit}"] \
        + [f"RMSE {s * minutes:g} min" for s in steps] + ["RMSE mean"]
    rows = [header]
    for key, stats in (("model", metrics), *metrics["baselines"].items()):
        rows.append([NAMES[key]] + [stats["mae_per_step"][s - 1] for s in steps] + [stats["mae"]]
                    + [stats["rmse_per_step"][s - 1] for s in steps] + [stats["rmse"]])
    return rows


def plot_horizons(metrics: dict, path: Path) -> Path:
    minutes = metrics["step_minutes"] * np.arange(1, metrics["horizon"] + 1)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for key, stats in (("model", metrics), *metrics["baselines"].items()):
        ax.plot(minutes, stats["mae_per_step"], "-o", ms=3, color=COLOURS[key], label=NAMES[key])
    ax.set_xlabel("minutes ahead")
    ax.set_ylabel(f"MAE ({metrics.get('unit') or 'data units'})")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


def held_out_day(forecasts: Forecasts, data: TrafficData, step: int) -> np.ndarray:
    """Target time indices of one whole held-out day (a weekday if there is one) forecast `step` steps ahead."""
    first, last = forecasts.ends[0] + step, forecasts.ends[-1] + step  # targets this step can reach
    a, b = forecasts.split.test
    slots, weekend = data.slots(), data.weekend()
    midnights = [m for m in range(a, b) if slots[m] == 0 and m >= first and m + data.steps_per_day - 1 <= last]
    if midnights:
        weekdays = [m for m in midnights if not weekend[m]]
        start = (weekdays or midnights)[0]
        return np.arange(start, start + data.steps_per_day)
    return np.arange(first, min(last + 1, first + data.steps_per_day))


def plot_day(forecasts: Forecasts, data: TrafficData, path: Path, step: int, nodes: int = 4) -> Path:
    """Actual speeds and the three forecasts made `step` steps earlier, over one held-out day, for the nodes whose
    speed varied most that day (rush hours, incidents)."""
    targets = held_out_day(forecasts, data, step)
    rows = targets - step - forecasts.ends[0]  # the windows that forecast these targets
    chosen = np.argsort(-data.values[targets].std(0))[:nodes]
    minutes = step * data.step.total_seconds() / 60
    fig, axes = plt.subplots(len(chosen), 1, figsize=(10, 2.2 * len(chosen)), sharex=True, squeeze=False)
    times = data.timestamps[targets]
    for ax, j in zip(axes[:, 0], chosen):
        ax.plot(times, data.values[targets, j], color=COLOURS["actual"], lw=1.4, label="actual")
        for key in ("historical_average", "last_value", "model"):
            ax.plot(times, getattr(forecasts, key)[rows, step - 1, j], color=COLOURS[key],
                    lw=1.6 if key == "model" else 1.0, ls="-" if key == "model" else "--", label=NAMES[key])
        ax.set_ylabel(f"{data.network.node_ids[j]}\n{data.unit}")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(ncol=4, fontsize=8, loc="lower left")
    axes[0, 0].set_title(f"held-out day {times[0]:%a %Y-%m-%d}: speeds forecast {minutes:g} min ahead")
    fig.autofmt_xdate()
    return save_figure(fig, path)


def layout(data: TrafficData) -> np.ndarray:
    if data.network.positions is not None:
        return data.network.positions
    graph = nx.Graph()
    graph.add_nodes_from(range(data.network.num_nodes))
    graph.add_edges_from(map(tuple, data.network.edges))
    where = nx.spring_layout(graph, seed=0)
    return np.array([where[i] for i in range(data.network.num_nodes)])


def plot_network(data: TrafficData, node_values: np.ndarray, label: str, path: Path, ax=None) -> Path | None:
    """The road network: segments as lines (thicker = stronger weight), nodes coloured by `node_values` (N,)."""
    pos = layout(data)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 5.5))
    net = data.network
    for (a, b), w in zip(net.edges, net.weights):
        ax.plot(pos[[a, b], 0], pos[[a, b], 1], color="#999999", lw=0.5 + 2.5 * w, zorder=1)
    dots = ax.scatter(pos[:, 0], pos[:, 1], c=node_values, cmap="viridis", s=90 if net.num_nodes <= 60 else 20,
                      edgecolors="white", zorder=2)
    if net.num_nodes <= 60:
        for i, name in enumerate(net.node_ids):
            ax.annotate(name, pos[i], fontsize=6, xytext=(4, 4), textcoords="offset points")
    plt.colorbar(dots, ax=ax, label=label, shrink=0.8)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"road network: {net.num_nodes} nodes, {len(net.edges)} {'directed ' if net.directed else ''}edges")
    return save_figure(ax.figure, path) if own else None


def node_errors(forecasts: Forecasts) -> np.ndarray:
    """(N,) the model's test MAE at each node, over every window and horizon step."""
    return np.abs(forecasts.model - forecasts.actual).mean((0, 1))


def error_label(data: TrafficData) -> str:
    return f"T-GCN test MAE ({data.unit or 'data units'})"


def plot_overview(forecasts: Forecasts, data: TrafficData, metrics: dict, path: Path, step: int) -> Path:
    """One picture for the README: the network with per-node error, and the busiest node's held-out day."""
    fig = plt.figure(figsize=(13, 4.8))
    net_ax = fig.add_subplot(1, 2, 1)
    plot_network(data, node_errors(forecasts), error_label(data), path, ax=net_ax)
    ax = fig.add_subplot(1, 2, 2)
    targets = held_out_day(forecasts, data, step)
    rows = targets - step - forecasts.ends[0]
    j = int(np.argmax(data.values[targets].std(0)))
    times = data.timestamps[targets]
    ax.plot(times, data.values[targets, j], color=COLOURS["actual"], lw=1.4, label="actual")
    for key in ("historical_average", "last_value", "model"):
        stats = metrics if key == "model" else metrics["baselines"][key]
        ax.plot(times, getattr(forecasts, key)[rows, step - 1, j], color=COLOURS[key],
                lw=1.6 if key == "model" else 1.0, ls="-" if key == "model" else "--",
                label=f"{NAMES[key]} (test MAE {stats['mae']:.2f})")
    minutes = step * data.step.total_seconds() / 60
    ax.set_title(f"node {data.network.node_ids[j]}, held-out {times[0]:%a %Y-%m-%d}, forecast {minutes:g} min ahead")
    ax.set_ylabel(data.unit or "speed")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.autofmt_xdate()
    return save_figure(fig, path)


def report_sections(run_dir: Path, cfg, history: list[dict], metrics: dict, forecasts: Forecasts,
                    data: TrafficData) -> list[Section]:
    run_dir = Path(run_dir)
    steps = report_steps(metrics["horizon"], metrics["step_minutes"])
    step = steps[len(steps) // 2]  # 30 minutes ahead with the default horizon
    curves = plot_curves(history, figure_path(run_dir, "curves.png"), ("loss", "mae"))
    horizons = plot_horizons(metrics, figure_path(run_dir, "horizons.png"))
    day = plot_day(forecasts, data, figure_path(run_dir, "held_out_day.png"), step)
    network = plot_network(data, node_errors(forecasts), error_label(data), figure_path(run_dir, "network.png"))
    overview = plot_overview(forecasts, data, metrics, figure_path(run_dir, "forecast.png"), step)
    best = min(("model", *metrics["baselines"]), key=lambda k: (metrics if k == "model" else metrics["baselines"][k])["mae"])
    summary = {"test MAE (T-GCN)": metrics["mae"], "test MAE (last value)": metrics["baselines"]["last_value"]["mae"],
               "test MAE (historical average)": metrics["baselines"]["historical_average"]["mae"],
               "lowest MAE": NAMES[best], "test span": metrics["test_span"], "test windows": metrics["n_windows"],
               "nodes": metrics["n_nodes"], "source": metrics["source"],
               "road network given to the model": bool(cfg.graph), "epochs": len(history),
               "training time (s)": round(sum(h.get("seconds", 0) for h in history), 1)}
    sections = [
        Section("Summary", tables=[summary]),
        Section("Error per horizon (test span)", text=[
            "Each forecaster predicts the next readings from the same held-out windows. Last value repeats the "
            "latest reading; historical average is the mean of the training days at that time of day (weekdays "
            "and weekends apart)."], tables=[error_table(metrics)], figures=[horizons]),
        Section("A held-out day", figures=[overview, day]),
        Section("Road network", figures=[network]),
        Section("Learning curves", figures=[curves]),
    ]
    if data.notes:
        sections.append(Section("Data notes", text=list(data.notes)))
    return sections
