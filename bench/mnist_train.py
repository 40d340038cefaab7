"""Benchmark: shinsou's MNIST training pipeline against a reference written the way pytorch/examples/mnist
does it (a Dataset with per-sample ToTensor + Normalize, DataLoader, batch 64), same model and optimizer.

Prints training images/s, time to 98% test accuracy and final accuracy for both, and the ratios.
Run: .venv/bin/python bench/mnist_train.py [--data ../shared/data/mnist] [--epochs 15] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from shinsou.mnist.data import load_digit_data
from shinsou.mnist.config import Config as MnistConfig
from shinsou.mnist.train import make_optimizer
from shinsou.mnist.transforms import eval_transform, train_transform
from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.trainer import evaluate, make_fabric, resolve_precision, setup, train_one_epoch
from shinsou.models import build_model


class ReferenceMnist(Dataset):
    """As pytorch/examples/mnist (via torchvision.datasets.MNIST): PIL image per sample, then the transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


def test_accuracy(model, test_x, test_y) -> float:
    return evaluate(model, InMemoryBatches(test_x, test_y, 1000), nn.CrossEntropyLoss(),
                    lambda: ConfusionMatrix(10))["accuracy"]


def run_reference(cfg, train, test_x, test_y, target):
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model)
    loader = DataLoader(ReferenceMnist(np.array(train.images), np.array(train.labels)), batch_size=64, shuffle=True)
    optimizer, scheduler = make_optimizer(model, cfg, len(loader))
    loss_fn = nn.CrossEntropyLoss()
    train_seconds, reached, accuracies = 0.0, None, []
    for epoch in range(cfg.epochs):
        model.train()
        started = time.perf_counter()
        for x, y in loader:  # the examples' train(): forward, loss, backward, step
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
        train_seconds += time.perf_counter() - started
        accuracies.append(test_accuracy(model, test_x, test_y))
        if reached is None and accuracies[-1] >= target:
            reached = train_seconds
    return {"images_per_s": cfg.epochs * len(train.images) / train_seconds, "seconds_to_target": reached,
            "final_accuracy": accuracies[-1], "best_accuracy": max(accuracies), "train_seconds": train_seconds}


def run_shinsou(cfg, train, test_x, test_y, target):
    torch.manual_seed(cfg.seed)
    fabric = make_fabric(1, precision=cfg.precision)
    model = build_model(cfg.model)
    batches = InMemoryBatches(torch.from_numpy(np.array(train.images)), torch.from_numpy(np.array(train.labels, np.int64)),
                              cfg.batch_size, shuffle=True, seed=cfg.seed, transform=train_transform(28, cfg.augment))
    optimizer, scheduler = make_optimizer(model, cfg, len(batches))
    model, optimizer = setup(fabric, model, optimizer)
    train_seconds, reached, accuracies = 0.0, None, []
    for epoch in range(cfg.epochs):
        batches.set_epoch(epoch)
        started = time.perf_counter()
        train_one_epoch(fabric, model, optimizer, batches, nn.CrossEntropyLoss(), lambda: ConfusionMatrix(10),
                        scheduler=scheduler)
        train_seconds += time.perf_counter() - started
        accuracies.append(test_accuracy(model.module, test_x, test_y))
        if reached is None and accuracies[-1] >= target:
            reached = train_seconds
    return {"images_per_s": cfg.epochs * len(train.images) / train_seconds, "seconds_to_target": reached,
            "final_accuracy": accuracies[-1], "best_accuracy": max(accuracies), "train_seconds": train_seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
    parser.add_argument("--epochs", type=int, default=MnistConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=MnistConfig.batch_size, help="shinsou's batch (reference: 64)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--target", type=float, default=0.98)
    parser.add_argument("--precision", default=MnistConfig.precision, help="shinsou's precision (reference: float32)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_digit_data(args.data)
    test_x = eval_transform(torch.from_numpy(np.array(data.test.images)), 28)
    test_y = torch.from_numpy(np.array(data.test.labels, np.int64))
    cfg = MnistConfig(epochs=args.epochs, batch_size=args.batch_size, precision=args.precision)
    ref_cfg = MnistConfig(epochs=args.epochs, batch_size=64)
    print(f"data {args.data}: {len(data.train.images)} train, {len(data.test.images)} test; model {cfg.model}, "
          f"SGD momentum {cfg.momentum} wd {cfg.weight_decay}, one-cycle peak lr {cfg.lr}, {cfg.epochs} epochs, "
          f"{args.threads} threads; shinsou precision {resolve_precision(cfg.precision)}, channels_last")
    results = {"reference (pytorch/examples style)": run_reference(ref_cfg, data.train, test_x, test_y, args.target),
               f"shinsou (batch {cfg.batch_size}, augment {cfg.augment})": run_shinsou(cfg, data.train, test_x, test_y, args.target)}
    print(f"{'pipeline':42s} {'images/s':>10s} {'s to ' + format(args.target, '.0%'):>10s} {'final acc':>10s} {'best acc':>9s}")
    for name, r in results.items():
        to_target = f"{r['seconds_to_target']:.1f}" if r["seconds_to_target"] is not None else "not reached"
        print(f"{name:42s} {r['images_per_s']:10.0f} {to_target:>10s} {r['final_accuracy']:10.4f} {r['best_accuracy']:9.4f}")
    ref, ours = results.values()
    print(f"ratio shinsou / reference: {ours['images_per_s'] / ref['images_per_s']:.2f}x images/s", end="")
    if ref["seconds_to_target"] and ours["seconds_to_target"]:
        print(f", {ref['seconds_to_target'] / ours['seconds_to_target']:.2f}x faster to {args.target:.0%}")
    else:
        print()


if __name__ == "__main__":
    main()
