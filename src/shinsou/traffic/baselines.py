"""The two forecasts any traffic model must beat (as in DCRNN's and T-GCN's tables): the last value carried forward,
and the historical average of the training days for that time of day (weekdays and weekends apart)."""

from __future__ import annotations

import numpy as np


def last_value(values: np.ndarray, ends: np.ndarray, horizon: int) -> np.ndarray:
    """values (T, N), window ends (S,) -> (S, horizon, N): the reading at t repeated for t+1..t+horizon."""
    return np.repeat(values[ends][:, None, :], horizon, axis=1)


class HistoricalAverage:
    """Mean reading per (day type, time-of-day slot, node) over the training span; a day type the training span
    lacks falls back to the slot's mean over all days."""

    def __init__(self, values: np.ndarray, slots: np.ndarray, weekend: np.ndarray, steps_per_day: int):
        """values (T, N), slots (T,) in 0..steps_per_day-1, weekend (T,) bool: the training span only."""
        n = values.shape[1]
        total = np.zeros((2, steps_per_day, n))
        count = np.zeros((2, steps_per_day, 1))
        kind = weekend.astype(np.int64)
        np.add.at(total, (kind, slots), values)
        np.add.at(count, (kind, slots), 1)
        overall = total.sum(0) / np.maximum(count.sum(0), 1)  # (steps_per_day, N) all days together
        node_mean = values.mean(0)  # (N,) for a slot never seen at all
        overall = np.where(count.sum(0) > 0, overall, node_mean[None, :])
        self.table = np.where(count > 0, total / np.maximum(count, 1), overall[None])  # (2, steps_per_day, N)

    def predict(self, slots: np.ndarray, weekend: np.ndarray) -> np.ndarray:
        """Target slots and day types of any shape -> the same shape plus (N,)."""
        return self.table[weekend.astype(np.int64), slots]


def historical_average(train_values: np.ndarray, train_slots: np.ndarray, train_weekend: np.ndarray,
                       steps_per_day: int, slots: np.ndarray, weekend: np.ndarray, ends: np.ndarray,
                       horizon: int) -> np.ndarray:
    """Forecasts (S, horizon, N) for targets t+1..t+horizon of each window end t, from the training span's averages."""
    average = HistoricalAverage(train_values, train_slots, train_weekend, steps_per_day)
    future = ends[:, None] + np.arange(1, horizon + 1)  # (S, horizon)
    return average.predict(slots[future], weekend[future])  # (S, horizon, N)
