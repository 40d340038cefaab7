"""digits8's Predictor: the MLP loaded once; inputs are (8, 8) arrays of 0..16 or a path to a .npy of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.checkpoint import BEST, load_weights
from shinsou.engine.config import load_run_config
from shinsou.engine.evaluation import evaluate
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.predictor import as_list, input_name
from shinsou.engine.records import class_record
from shinsou.errors import DataError

from digits8.data import CLASS_NAMES, build_model, splits, to_tensor


class Digits8Predictor:
    def __init__(self, run_dir: Path):
        self.run_dir, self.config = Path(run_dir), load_run_config(run_dir)
        self.model = load_weights(build_model(self.config["hidden"]), self.run_dir / BEST).eval()

    def _array(self, item, index):
        array = np.load(item) if isinstance(item, (str, Path)) else np.asarray(item)
        if array.shape != (8, 8):
            raise DataError(f"{input_name(item, index)}: digits8 takes 8x8 images, got shape {array.shape}")
        return array.astype(np.float32) / 16.0

    @torch.no_grad()
    def predict(self, inputs, top: int = 3) -> list[dict]:
        items = as_list(inputs)
        x = to_tensor(np.stack([self._array(item, i) for i, item in enumerate(items)]))
        probs = torch.softmax(self.model(x), 1).numpy()
        return [class_record(p, CLASS_NAMES, top, input=input_name(item, i)) for i, (item, p) in enumerate(zip(items, probs))]

    def evaluate(self, data=None) -> dict:
        x, y = splits(self.config["seed"])["test"]
        return evaluate(self.model, InMemoryBatches(to_tensor(x), torch.from_numpy(y), 256), nn.CrossEntropyLoss(),
                        lambda: ConfusionMatrix(10))

    def example_input(self):
        return np.zeros((8, 8), dtype=np.float32)


def load(run_dir) -> Digits8Predictor:
    return Digits8Predictor(run_dir)
