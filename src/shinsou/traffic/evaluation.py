"""Measuring a traffic forecaster on the held-out span, as DCRNN's and T-GCN's tables do: the model beside last value
and historical average on the same test windows, MAE/RMSE overall and per horizon step (shared by training and the Predictor)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from shinsou.errors import DataError
from shinsou.traffic.baselines import historical_average, last_value
from shinsou.traffic.data import TrafficData, load_source
from shinsou.traffic.metrics import forecast_error
from shinsou.traffic.windows import Split, model_inputs, past_windows, split_series, window_ends

REPORT_STEPS_MINUTES = (15, 30, 60)  # the horizons DCRNN and T-GCN tables show


@dataclass
class Forecasts:
    """Everything measured on the test span, in data units: window ends (S,), arrays (S, horizon, N)."""

    ends: np.ndarray
    actual: np.ndarray
    model: np.ndarray
    last_value: np.ndarray
    historical_average: np.ndarray
    split: Split


@torch.no_grad()
def forecast(model: nn.Module, inputs: torch.Tensor, ends: np.ndarray, mean: float, std: float,
             batch_size: int = 128) -> np.ndarray:
    """The model's forecasts (S, horizon, N) in data units for the windows ending at `ends` (inputs (T, N, F))."""
    model.eval()
    ends = torch.as_tensor(ends, dtype=torch.long)
    outputs = [model(past_windows(inputs, ends[i : i + batch_size], model.window))  # (B, horizon, N) standardised
               for i in range(0, len(ends), batch_size)]
    return (torch.cat(outputs).double() * std + mean).numpy()


def measure(model: nn.Module, data: TrafficData, mean: float, std: float, val_fraction: float = 0.1,
            test_fraction: float = 0.2) -> Forecasts:
    """Forecast every test window with the model and both baselines; the averages come from the training span only."""
    window, horizon = model.window, model.horizon
    split = split_series(len(data.timestamps), data.steps_per_day, window, horizon, val_fraction, test_fraction, data.source)
    inputs, _ = model_inputs(data.values, data.timestamps, mean, std)
    ends = window_ends(split.test, window, horizon)
    future = ends[:, None] + np.arange(1, horizon + 1)  # (S, horizon)
    actual = data.values[future].astype(np.float64)  # (S, horizon, N)
    a, b = split.train
    slots, weekend = data.slots(), data.weekend()
    average = historical_average(data.values[a:b], slots[a:b], weekend[a:b], data.steps_per_day, slots, weekend, ends, horizon)
    return Forecasts(ends, actual, forecast(model, inputs, ends, mean, std),
                     last_value(data.values.astype(np.float64), ends, horizon), average, split)


def _with_steps(stats: dict) -> dict:
    return {"mae": stats["mae"], "rmse": stats["rmse"], "mae_per_step": stats["mae_per_step"],
            "rmse_per_step": stats["rmse_per_step"]}


def summarize(forecasts: Forecasts, data: TrafficData) -> dict:
    """metrics.json and `shinsou evaluate --json`: the model's mae/rmse (overall and per step) and both baselines'."""
    model = forecast_error(forecasts.model, forecasts.actual)
    baselines = {"last_value": _with_steps(forecast_error(forecasts.last_value, forecasts.actual)),
                 "historical_average": _with_steps(forecast_error(forecasts.historical_average, forecasts.actual))}
    step_minutes = data.step.total_seconds() / 60
    a, b = forecasts.split.test
    return {
        "mae": model["mae"], "rmse": model["rmse"],
        "mae_per_step": model["mae_per_step"], "rmse_per_step": model["rmse_per_step"],
        "step_minutes": step_minutes, "horizon": forecasts.actual.shape[1],
        "baselines": baselines,
        "last_value_mae": baselines["last_value"]["mae"],  # repeated flat, for `shinsou evaluate`'s table
        "historical_average_mae": baselines["historical_average"]["mae"],
        "beats_baselines": bool(model["mae"] < min(v["mae"] for v in baselines.values())),
        "n_windows": int(len(forecasts.ends)), "n_nodes": int(forecasts.actual.shape[2]), "unit": data.unit,
        "test_span": f"{data.timestamps[a]} .. {data.timestamps[b - 1]}",
        "test_days": round((b - a) / data.steps_per_day, 2),
        "source": data.source,
    }


def comparison_line(metrics: dict) -> str:
    """One line for the terminal: the test MAE of the model and of both baselines."""
    return (f"test MAE ({metrics.get('unit') or 'data units'}): T-GCN {metrics['mae']:.3f}, "
            f"last value {metrics['last_value_mae']:.3f}, historical average {metrics['historical_average_mae']:.3f} "
            f"over {metrics['n_windows']} windows x {metrics['n_nodes']} nodes")


def report_steps(horizon: int, step_minutes: float) -> list[int]:
    """1-based horizon steps to tabulate: 15/30/60 minutes ahead where the horizon reaches, else every step (<= 4)."""
    steps = [int(round(m / step_minutes)) for m in REPORT_STEPS_MINUTES if m % step_minutes == 0]
    steps = [s for s in steps if 1 <= s <= horizon]
    return steps or list(range(1, min(horizon, 4) + 1))


def run_data(config: dict, data: str | None = None) -> TrafficData:
    """The run's own data (files or the seeded simulator), or `data` given at evaluation, in the run's node order."""
    if data is None:
        source = load_source(config.get("data"), config.get("distances"), config.get("sim_nodes", 36),
                             config.get("sim_days", 28), config.get("sim_seed", 0))
    else:
        source = load_source(data)
    source = source.subset_nodes(config["node_ids"])
    check_step(source.timestamps, config, source.source)
    return source


def check_step(timestamps: pd.DatetimeIndex, config: dict, source: str) -> None:
    minutes = (timestamps[1] - timestamps[0]).total_seconds() / 60
    if abs(minutes - config["step_minutes"]) > 1e-9:
        raise DataError(f"{source}: readings every {minutes:g} min, but the run was trained on {config['step_minutes']:g}-minute steps")
