"""The baselines and the error metric against hand computations: last value carried forward, the historical average
for that time of day (weekdays and weekends apart), MAE and RMSE per horizon step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from shinsou.traffic.baselines import HistoricalAverage, historical_average, last_value
from shinsou.traffic.metrics import ForecastError, forecast_error


def test_last_value_repeats_the_latest_reading():
    values = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])  # (T=4, N=2)
    forecast = last_value(values, np.array([1, 2]), horizon=2)
    assert forecast.tolist() == [[[2, 20], [2, 20]], [[3, 30], [3, 30]]]


def test_historical_average_by_time_of_day_and_day_type():
    # 3 slots a day; two weekdays and one weekend day of training readings for one node
    values = np.array([[10.0], [20.0], [30.0],  # Monday
                       [14.0], [22.0], [36.0],  # Tuesday
                       [50.0], [60.0], [70.0]])  # Saturday
    slots = np.array([0, 1, 2] * 3)
    weekend = np.array([False] * 6 + [True] * 3)
    average = HistoricalAverage(values, slots, weekend, steps_per_day=3)
    assert average.table[0, :, 0].tolist() == [12.0, 21.0, 33.0]  # weekday means by hand
    assert average.table[1, :, 0].tolist() == [50.0, 60.0, 70.0]
    assert average.predict(np.array([2, 0]), np.array([False, True])).tolist() == [[33.0], [50.0]]


def test_historical_average_falls_back_to_all_days():
    values = np.array([[10.0], [20.0], [14.0], [22.0]])  # weekdays only, 2 slots
    average = HistoricalAverage(values, np.array([0, 1, 0, 1]), np.zeros(4, bool), steps_per_day=2)
    assert average.table[1, :, 0].tolist() == [12.0, 21.0]  # no weekend seen: the all-days mean


def test_historical_average_forecasts_the_target_times():
    values = np.array([[10.0], [20.0], [30.0], [14.0], [22.0], [36.0]])
    slots = np.array([0, 1, 2, 0, 1, 2])
    weekend = np.zeros(6, bool)
    # windows ending at t=0 and t=2 forecast t+1, t+2 (slots 1, 2) and t+1, t+2 (slots 0, 1)
    forecast = historical_average(values, slots, weekend, 3, slots, weekend, np.array([0, 2]), horizon=2)
    assert forecast[:, :, 0].tolist() == [[21.0, 33.0], [12.0, 21.0]]


def test_forecast_error_by_hand():
    predicted = np.array([[[1.0, 2.0], [3.0, 4.0]]])  # (S=1, horizon=2, N=2)
    actual = np.array([[[2.0, 2.0], [0.0, 8.0]]])
    stats = forecast_error(predicted, actual)
    assert stats["mae_per_step"] == pytest.approx([0.5, 3.5])  # (1 + 0) / 2, (3 + 4) / 2
    assert stats["rmse_per_step"] == pytest.approx([math.sqrt(0.5), math.sqrt(12.5)])
    assert stats["mae"] == pytest.approx(2.0) and stats["rmse"] == pytest.approx(math.sqrt(6.5))
    assert stats["n"] == 2


def test_forecast_error_undoes_standardisation_across_batches():
    metric = ForecastError(horizon=1, mean=50.0, std=10.0)
    metric.update(torch.tensor([[[0.1]]]), torch.tensor([[[0.0]]]))  # 51 vs 50
    metric.update(torch.tensor([[[-0.3]]]), torch.tensor([[[0.0]]]))  # 47 vs 50
    assert metric.compute()["mae"] == pytest.approx(2.0)
    assert metric.compute()["rmse"] == pytest.approx(math.sqrt(5.0))
