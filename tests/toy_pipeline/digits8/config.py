"""digits8's options: the engine's common ones with its own defaults, and one of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shinsou.engine.options import CommonConfig, option


@dataclass
class Config(CommonConfig):
    """Train a small MLP on scikit-learn's 8x8 digits."""

    main_metric: ClassVar[str] = "accuracy"

    epochs: int = option(8, "Epochs to train (a fraction of a second each).")
    batch_size: int = option(32, "Images per step.")
    lr: float = option(0.01, "Adam learning rate.")
    hidden: int = option(64, "Width of the hidden layer.")
