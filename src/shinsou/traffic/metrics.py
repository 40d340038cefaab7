"""Forecast error as an accumulator with update() / compute() like engine.metrics.ConfusionMatrix: MAE and RMSE
in the data's own unit (km/h, mph), overall and per horizon step, as DCRNN and T-GCN report them."""

from __future__ import annotations

import math

import numpy as np
import torch


class ForecastError:
    """Sums |error| and error^2 per horizon step; `mean`/`std` undo the standardisation of model outputs."""

    def __init__(self, horizon: int, mean: float = 0.0, std: float = 1.0):
        self.mean, self.std = mean, std
        self.abs = torch.zeros(horizon, dtype=torch.float64)
        self.sq = torch.zeros(horizon, dtype=torch.float64)
        self.count = 0  # windows x nodes per step

    def update(self, outputs, targets) -> None:
        """outputs, targets (B, horizon, N), standardised (tensors) or in data units with mean 0, std 1 (arrays too)."""
        outputs, targets = torch.as_tensor(outputs), torch.as_tensor(targets)
        error = (outputs.detach().double().cpu() - targets.double().cpu()) * self.std  # the shift cancels
        self.abs += error.abs().sum((0, 2))
        self.sq += error.pow(2).sum((0, 2))
        self.count += error.shape[0] * error.shape[2]

    def compute(self) -> dict:
        n = max(self.count, 1)
        mae, mse = (self.abs / n).tolist(), (self.sq / n).tolist()
        return {"n": self.count, "mae": float(np.mean(mae)) if self.count else math.nan,
                "rmse": math.sqrt(float(np.mean(mse))) if self.count else math.nan,
                "mae_per_step": mae, "rmse_per_step": [math.sqrt(v) for v in mse]}


def forecast_error(predicted: np.ndarray, actual: np.ndarray) -> dict:
    """MAE/RMSE of forecasts (S, horizon, N) in data units, for the baselines."""
    metric = ForecastError(predicted.shape[1])
    metric.update(torch.from_numpy(np.asarray(predicted, dtype=np.float64)), torch.from_numpy(np.asarray(actual, dtype=np.float64)))
    return metric.compute()
