"""The traffic pipeline's entry points for `shinsou evaluate` and `shinsou predict` (training: train.py), and the
measurement both use: the model against last value and historical average on the same held-out windows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from shinsou.engine.runs import load_run_model, write_json_atomic
from shinsou.errors import DataError
from shinsou.traffic.baselines import historical_average, last_value
from shinsou.traffic.data import TrafficData, check_even_spacing, load_source, read_series_file
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
    """The JSON of `shinsou evaluate --json`: the model's mae/rmse (overall and per step) and both baselines'."""
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


def evaluate_run(run_dir: str | Path, data: str | None = None) -> dict:
    """Test-span MAE/RMSE of the run's model and both baselines on its own data or on `data` (same network)."""
    model, config = load_run_model(run_dir)
    source = run_data(config, data)
    scaler = config["scaler"]
    forecasts = measure(model, source, scaler["mean"], scaler["std"], config.get("val_fraction", 0.1),
                        config.get("test_fraction", 0.2))
    return summarize(forecasts, source)


def predict_run(run_dir: str | Path, files: list[str], out: str | None = None) -> list[dict]:
    """Forecast the next `horizon` readings of every node after the last timestamp of each input (a data folder,
    a readings.csv or a speed table); with `out`, also write OUT/forecast-NAME.csv (timestamp,node,value)."""
    model, config = load_run_model(run_dir)
    node_ids, scaler = config["node_ids"], config["scaler"]
    results = []
    for file in files:
        path = Path(file)
        timestamps, values = read_series_file(path, node_ids)
        check_even_spacing(timestamps, path)
        check_step(timestamps, config, str(path))
        if len(timestamps) < model.window:
            raise DataError(f"{path}: {len(timestamps)} timestamps, the model needs the last {model.window}")
        inputs, _ = model_inputs(values, timestamps, scaler["mean"], scaler["std"])
        predicted = forecast(model, inputs, np.array([len(timestamps) - 1]), scaler["mean"], scaler["std"])[0]
        step = timestamps[1] - timestamps[0]
        future = [str(timestamps[-1] + step * (h + 1)) for h in range(model.horizon)]
        rows = []
        for j, node in enumerate(node_ids):
            results.append({"input": str(path), "node": node, "last_reading": round(float(values[-1, j]), 3),
                            "last_timestamp": str(timestamps[-1]), "timestamps": future,
                            "forecast": [round(float(v), 3) for v in predicted[:, j]]})
            rows += [(t, node, float(v)) for t, v in zip(future, predicted[:, j])]
        if out is not None:
            Path(out).mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows, columns=["timestamp", "node", "value"]).to_csv(
                Path(out) / f"forecast-{path.stem}.csv", index=False, float_format="%.2f")
    return results


def write_metrics(run_dir: Path, metrics: dict) -> Path:
    return write_json_atomic(Path(run_dir) / "metrics.json", metrics)
