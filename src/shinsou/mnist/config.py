"""The MNIST pipeline's options: LeNet on MNIST-family digits (IDX or Kaggle CSV), trained with SGD as the
lecture and Caffe's LeNet solver do; every field's help line becomes a `shinsou train mnist` flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shinsou.engine.options import CommonConfig, option

SCHEDULES = ("onecycle", "cosine", "constant")
DIGIT_MODELS = ("lenet-caffe", "lenet5", "lenet-bn")


@dataclass
class Config(CommonConfig):
    """Train LeNet on MNIST-family digits; prints the test accuracy and where the report is."""

    main_metric: ClassVar[str] = "accuracy"

    data: str | None = option(None, "MNIST-layout folder (train-images-idx3-ubyte[.gz], ...) or Kaggle CSV "
                              "(label,pixel0..pixel783). Default: the embedded 2,000-digit sample.")
    model: str = option("lenet-caffe", "lenet-caffe (28x28), lenet5 (32x32) or lenet-bn (lenet-caffe with batch "
                        "norm, ReLU and dropout).", choices=DIGIT_MODELS)
    epochs: int = option(40, "Epochs to train (well under a second each on the embedded sample, 2 cores).")
    batch_size: int = option(64, "Images per step and process.")
    lr: float = option(0.03, "Peak learning rate of the one-cycle schedule (Caffe's fixed-schedule start is 0.01).")
    momentum: float = option(0.9, "SGD momentum (Nesterov).")
    weight_decay: float = option(5e-4, "L2 weight decay (Caffe's LeNet solver).")
    schedule: str = option("onecycle", "Learning-rate schedule.", choices=SCHEDULES)
    augment: bool = option(True, "Small random affine augmentation (rotation 10 degrees, scale 0.9-1.1, shift 10%).")
    val_fraction: float = option(0.1, "Share of the training images held out for validation (stratified).")
