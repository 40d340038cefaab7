"""A trained traffic run loaded once: T-GCN (Zhao et al. 2019) with the road network in its checkpoint, forecasting
the next `horizon` readings of every sensor after the last timestamp of each input; evaluation beside the baselines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from torch import nn

from shinsou.engine.predictor import as_list, input_name
from shinsou.engine.records import value_record
from shinsou.engine.runs import load_run_model
from shinsou.errors import DataError
from shinsou.traffic.data import read_series_file, read_series_frame
from shinsou.traffic.evaluation import check_step, forecast, measure, run_data, summarize
from shinsou.traffic.windows import model_inputs

READINGS_EXPECTED = ("a data folder, a readings.csv (timestamp,node,value) or a speed table (.csv), or a pandas "
                     "DataFrame of readings (timestamp,node,value rows, or timestamps by sensor columns)")


class TrafficPredictor:
    """The run's T-GCN, its node order, standardisation and reading step, loaded once.

    `predict(inputs)` returns, for each input, one value record per sensor and horizon step, sensor by sensor:
    {"input", "value" (the forecast speed, in the data's unit), "node", "timestamp" (of the forecast reading),
    "minutes_ahead"} -- the long `timestamp,node,value` layout of readings.csv.
    """

    def __init__(self, run_dir: Path, model: nn.Module, config: dict):
        self.run_dir, self.model, self.config = Path(run_dir), model, config
        self.node_ids: list[str] = list(config["node_ids"])
        self.mean, self.std = config["scaler"]["mean"], config["scaler"]["std"]
        self.step = pd.Timedelta(minutes=config["step_minutes"])

    def readings(self, item: Any, name: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """One input -> (T,) evenly spaced timestamps at the run's step and (T, N) readings in the run's node order."""
        if isinstance(item, (str, os.PathLike)):
            timestamps, values = read_series_file(Path(item), self.node_ids)
        elif isinstance(item, pd.DataFrame):
            timestamps, values = read_series_frame(item, self.node_ids, name)
        else:
            raise DataError(f"{name}: a traffic forecast takes {READINGS_EXPECTED}; got {type(item).__name__}")
        check_step(timestamps, self.config, name)
        if len(timestamps) < self.model.window:
            raise DataError(f"{name}: {len(timestamps)} timestamps, the model needs the last {self.model.window}")
        return timestamps, values

    def predict(self, inputs: Sequence[Any]) -> list[dict]:
        records = []
        for i, item in enumerate(as_list(inputs)):
            name = input_name(item, i)
            timestamps, values = self.readings(item, name)
            x, _ = model_inputs(values, timestamps, self.mean, self.std)  # (T, N, 4)
            predicted = forecast(self.model, x, np.array([len(timestamps) - 1]), self.mean, self.std)[0]  # (horizon, N)
            minutes = self.step.total_seconds() / 60
            for j, node in enumerate(self.node_ids):
                for h in range(self.model.horizon):
                    ahead = (h + 1) * minutes
                    records.append(value_record(predicted[h, j], input=name, node=node,
                                                timestamp=str(timestamps[-1] + self.step * (h + 1)),
                                                minutes_ahead=int(ahead) if ahead == int(ahead) else ahead))
        return records

    def evaluate(self, data: str | None = None) -> dict:
        """Test-span MAE/RMSE (overall and per step) of the model and both baselines, on the run's own data (its files
        or the seeded simulator) or on `data` (the same network: the same node ids, the same reading step)."""
        source = run_data(self.config, data)
        forecasts = measure(self.model, source, self.mean, self.std, self.config.get("val_fraction", 0.1),
                            self.config.get("test_fraction", 0.2))
        return summarize(forecasts, source)

    def example_input(self) -> pd.DataFrame:
        """One window of readings (timestamps by sensor), every sensor at the training mean speed."""
        index = pd.date_range("2024-01-01", periods=self.model.window, freq=self.step, name="timestamp")
        return pd.DataFrame(np.full((self.model.window, len(self.node_ids)), self.mean, dtype=np.float32),
                            index=index, columns=self.node_ids)


def load(run_dir: str | os.PathLike) -> TrafficPredictor:
    model, config = load_run_model(run_dir)
    return TrafficPredictor(Path(run_dir), model, config)
