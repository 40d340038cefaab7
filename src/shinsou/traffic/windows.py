"""Forecast windows, after DCRNN's data preparation: model inputs (standardised speed + time of day + weekend), the
chronological train/validation/test split, (past window -> next steps) pairs and the batches that cut them on the fly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from shinsou.errors import ConfigError
from shinsou.traffic.data import steps_per_day as day_steps, time_slots, weekend_flags


def time_features(timestamps: pd.DatetimeIndex, step: pd.Timedelta) -> np.ndarray:
    """(T, 3): sin and cos of the time of day, and a weekend flag, the same for every node."""
    angle = 2 * np.pi * time_slots(timestamps, step) / day_steps(step)
    return np.stack([np.sin(angle), np.cos(angle), weekend_flags(timestamps).astype(np.float64)], 1).astype(np.float32)


NUM_FEATURES = 4  # speed (standardised) + the 3 time features


def model_inputs(values: np.ndarray, timestamps: pd.DatetimeIndex, mean: float, std: float) -> tuple[torch.Tensor, torch.Tensor]:
    """values (T, N) -> (T, N, 4) inputs: standardised speed, sin/cos time of day, weekend; and (T, N) standardised targets."""
    z = (values - mean) / std  # (T, N)
    t, n = z.shape
    times = np.broadcast_to(time_features(timestamps, timestamps[1] - timestamps[0])[:, None, :], (t, n, 3))  # (T, N, 3)
    inputs = np.concatenate([z[:, :, None], times], axis=2).astype(np.float32)  # (T, N, 4)
    return torch.from_numpy(inputs), torch.from_numpy(z.astype(np.float32))


@dataclass
class Split:
    train: tuple[int, int]  # [start, end) time indices
    val: tuple[int, int]
    test: tuple[int, int]
    whole_days: bool


def split_series(length: int, steps_per_day: int, window: int, horizon: int, val_fraction: float = 0.1,
                 test_fraction: float = 0.2, source: str = "data") -> Split:
    """Chronological train / validation / test (70/10/20 as DCRNN splits METR-LA), in whole days when there are 10 or more."""
    unit = steps_per_day if length >= 10 * steps_per_day else 1
    units = length // unit
    test = max(1, round(test_fraction * units)) * unit
    val = max(1, round(val_fraction * units)) * unit
    train_end = length - test - val
    split = Split((0, train_end), (train_end, train_end + val), (train_end + val, length), unit > 1)
    need = window + horizon
    for name, (a, b) in (("training", split.train), ("validation", split.val), ("test", split.test)):
        if b - a < need:
            raise ConfigError(f"{source}: {length} timestamps leave {b - a} for {name}, fewer than window + horizon = {need}; "
                              "use more data or a shorter --window/--horizon")
    return split


def window_ends(span: tuple[int, int], window: int, horizon: int) -> np.ndarray:
    """Indices t of the last input step of every window inside [start, end): inputs t-window+1..t, targets t+1..t+horizon."""
    start, end = span
    return np.arange(start + window - 1, end - horizon, dtype=np.int64)


def past_windows(inputs: torch.Tensor, ends: torch.Tensor, window: int) -> torch.Tensor:
    """inputs (T, N, F), ends (B,) -> x (B, window, N, F): steps end-window+1 .. end."""
    past = torch.as_tensor(ends)[:, None] - torch.arange(window - 1, -1, -1)  # (B, window)
    return inputs[past]


def gather_windows(inputs: torch.Tensor, targets: torch.Tensor, ends: torch.Tensor, window: int,
                   horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """inputs (T, N, F), targets (T, N), ends (B,) -> x (B, window, N, F), y (B, horizon, N)."""
    future = ends[:, None] + torch.arange(1, horizon + 1)  # (B, horizon)
    return past_windows(inputs, ends, window), targets[future]


class WindowBatches:
    """Mini-batches of (past window, next steps) cut from the series on the fly (METR-LA's windows would not fit
    in memory as copies); seeded shuffling per epoch and DDP sharding as engine.batches.InMemoryBatches does."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, ends: np.ndarray, window: int, horizon: int,
                 batch_size: int, shuffle: bool = False, seed: int = 0):
        self.inputs, self.targets = inputs, targets
        self.ends = torch.as_tensor(ends, dtype=torch.long)
        self.window, self.horizon, self.batch_size, self.shuffle, self.seed = window, horizon, batch_size, shuffle, seed
        self.epoch, self.rank, self.world_size = 0, 0, 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def shard(self, rank: int, world_size: int) -> "WindowBatches":
        self.rank, self.world_size = rank, world_size
        return self

    def _order(self) -> torch.Tensor:
        n = len(self.ends)
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch))
        else:
            order = torch.arange(n)
        if self.world_size > 1:
            per_rank = -(-n // self.world_size)
            order = torch.cat([order, order[: per_rank * self.world_size - n]])[self.rank :: self.world_size]
        return order

    def __len__(self) -> int:
        return -(-(-(-len(self.ends) // self.world_size)) // self.batch_size)

    def __iter__(self):
        order = self._order()
        for i in range(0, len(order), self.batch_size):
            yield gather_windows(self.inputs, self.targets, self.ends[order[i : i + self.batch_size]],
                                 self.window, self.horizon)
