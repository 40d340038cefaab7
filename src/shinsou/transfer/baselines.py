"""Reference points for a transfer run, on the same seeded K-per-class images: logistic regression on frozen
ImageNet features (a linear probe, as in Kornblith et al. 2019) and LeNet trained from scratch (IDX data)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from shinsou.transfer.data import ImageSet, SplitPlan, load_transfer_data
from shinsou.transfer.transforms import eval_transform


@torch.no_grad()
def frozen_features(model, images: ImageSet, batch_size: int = 100) -> np.ndarray:
    """(N, C, h, w) uint8 -> (N, D) pooled backbone features (model.features), the network untouched."""
    model.eval()
    transform = eval_transform(model.preprocess, model.input_size[-1])
    chunks = [model.features(transform(images.images[i:i + batch_size])) for i in range(0, len(images.labels), batch_size)]
    return torch.cat(chunks).numpy()


def linear_probe(backbone: str, train: ImageSet, test: ImageSet, size: int, weights: str = "imagenet") -> dict:
    """Standardised frozen features -> multinomial logistic regression (L2, C chosen on the training set by 5-fold CV)."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from shinsou.transfer.backbones import build_backbone

    model = build_backbone(backbone, 1000, weights, size, freeze=None)
    x_train, x_test = frozen_features(model, train), frozen_features(model, test)
    folds = int(min(5, np.bincount(train.labels).min()))
    probe = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=[0.001, 0.01, 0.1, 1.0], cv=folds, max_iter=2000))
    with warnings.catch_warnings():  # scikit-learn 1.9 announces changes of LogisticRegressionCV's defaults
        warnings.simplefilter("ignore", FutureWarning)
        probe.fit(x_train, train.labels)
    return {"accuracy": float((probe.predict(x_test) == test.labels).mean()), "n": int(len(test.labels)),
            "features": int(x_train.shape[1])}


def lenet_scratch(train: ImageSet, val: ImageSet, test: ImageSet, epochs: int = 60, lr: float = 0.01, seed: int = 0,
                  precision: str = "auto") -> dict:
    """Caffe's LeNet on the 28x28 grey images themselves, SGD + one-cycle, the MNIST pipeline's augmentation."""
    from shinsou.mnist.lenet import lenet_caffe
    from shinsou.mnist.transforms import eval_transform as digit_eval, train_transform as digit_train
    from shinsou.engine.batches import InMemoryBatches
    from shinsou.engine.checkpoint import BEST, load_weights
    from shinsou.engine.metrics import ConfusionMatrix
    from shinsou.engine.trainer import evaluate, fit, make_fabric

    def grey(images: ImageSet) -> torch.Tensor:
        return images.images[:, 0]  # (N, 1, 28, 28) -> (N, 28, 28)

    torch.manual_seed(seed)
    model = lenet_caffe(num_classes=10, in_channels=1)
    labels = lambda s: torch.from_numpy(s.labels)  # noqa: E731
    batches = InMemoryBatches(grey(train), labels(train), 32, shuffle=True, seed=seed, transform=digit_train(28, True))
    val_batches = InMemoryBatches(digit_eval(grey(val)), labels(val), 1000)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(batches), pct_start=0.2)
    metric = lambda: ConfusionMatrix(10)  # noqa: E731
    with tempfile.TemporaryDirectory() as run_dir:
        fit(make_fabric(1, precision=precision), model, optimizer, batches, val_batches, loss_fn=nn.CrossEntropyLoss(),
            new_metric=metric, epochs=epochs, run_dir=Path(run_dir), scheduler=scheduler, seed=seed, log=lambda line: None)
        load_weights(model, Path(run_dir) / BEST)
    result = evaluate(model, InMemoryBatches(digit_eval(grey(test)), labels(test), 1000), nn.CrossEntropyLoss(), metric)
    return {"accuracy": result["accuracy"], "n": result["n"], "epochs": epochs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Reference points for `shinsou train transfer` on the same K-per-class images.")
    parser.add_argument("--data", required=True, help="The --data of the transfer run (an MNIST-layout folder for LeNet).")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lenet-epochs", type=int, default=60)
    parser.add_argument("--lenet-lr", type=float, default=0.01, help="Peak SGD learning rate (0.05 diverges on 200 images).")
    parser.add_argument("--only", choices=("probe", "lenet"), help="Measure one of the two.")
    parser.add_argument("--precision", default="auto", help="LeNet's training precision (auto, 32-true, bf16-mixed).")
    args = parser.parse_args(argv)
    plan = SplitPlan(seed=args.seed, per_class=args.per_class, val_per_class=args.per_class)
    data = load_transfer_data(args.data, plan, args.image_size)
    train, val, test = (data.splits[s] for s in ("train", "val", "test"))
    results = {"data": args.data, "per_class": args.per_class, "train_images": int(len(train.labels))}
    if args.only in (None, "probe"):
        started = time.perf_counter()
        results["linear_probe"] = {**linear_probe(args.backbone, train, test, args.image_size), "backbone": args.backbone,
                                   "image_size": args.image_size, "seconds": round(time.perf_counter() - started, 1)}
        print(json.dumps(results["linear_probe"]), file=sys.stderr)
    if args.only in (None, "lenet") and data.kind == "idx":
        started = time.perf_counter()
        results["lenet_scratch"] = {**lenet_scratch(train, val, test, args.lenet_epochs, args.lenet_lr, args.seed,
                                                  args.precision),
                                    "precision": args.precision, "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
