"""SegNet's encoder from VGG16-BN weights (Simonyan & Zisserman 2015): torchvision's `VGG16_BN_Weights.IMAGENET1K_V1`
through its weights API, or a local state_dict (torch.load weights_only / safetensors) with `features.*` keys."""

from __future__ import annotations

import socket
from pathlib import Path

import torch
from torch import nn

from shinsou.engine.checkpoint import check_state_fits
from shinsou.errors import ConfigError, DataError
from shinsou.models.layers import make_layers

VGG16_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
DOWNLOAD_TIMEOUT_S = 30


def vgg_key_map(encoder: nn.ModuleList) -> dict[str, str]:
    """torchvision vgg16_bn `features.N.*` name -> our `encoder.S.M.*` name, layer by layer in order.

    torchvision's convs carry a bias (in front of a BN, where it has no effect) that ours do not; see fold_conv_bias.
    """
    reference = make_layers(VGG16_D, 3, batch_norm=True)  # the same layer order as torchvision's `features`
    theirs = [(f"features.{i}", m) for i, m in enumerate(reference) if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    ours = [(f"encoder.{s}.{i}", m) for s, stage in enumerate(encoder) for i, m in enumerate(stage)
            if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    if len(theirs) != len(ours):
        raise ConfigError("VGG16-BN weights fit only the segnet model (13 convs), not this encoder")
    mapping = {}
    for (their_name, their_module), (our_name, our_module) in zip(theirs, ours):
        for key in our_module.state_dict():
            mapping[f"{their_name}.{key}"] = f"{our_name}.{key}"
    return mapping


def fold_conv_bias(state: dict[str, torch.Tensor], mapping: dict[str, str]) -> dict[str, torch.Tensor]:
    """BN(conv(x) + b) = BN'(conv(x)) with running_mean' = running_mean - b: exact in eval mode, and in
    training mode BN subtracts the batch mean, which cancels b anyway."""
    state = dict(state)
    for name, target in mapping.items():
        if name.endswith(".running_mean"):
            conv = f"features.{int(name.split('.')[1]) - 1}.bias"  # the conv right before this BN
            if conv in state:
                state[name] = state[name] - state.pop(conv)
    return state


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise DataError(f"{path}: no such weights file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and safetensors errors differ; all mean the same to the user
        raise DataError(f"{path}: not a readable state_dict ({e.__class__.__name__}; expected torch.save(model.state_dict()) "
                        f"or safetensors)") from None
    for wrapper in ("state_dict", "model"):  # checkpoints that wrap the state_dict in a dict
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"{path}: not a state_dict (a mapping of parameter names to tensors)")
    return state


def imagenet_state_dict() -> dict[str, torch.Tensor]:
    """torchvision's VGG16-BN ImageNet weights (downloaded once into the torch hub cache)."""
    from torchvision.models import VGG16_BN_Weights

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # fail instead of hanging where the network drops packets
    try:
        return VGG16_BN_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
    except Exception as e:  # URLError, timeouts, HTTP and hash errors all mean "not available here"
        reason = " ".join(str(e).split())[:160]
        raise DataError(f"cannot download torchvision's VGG16-BN ImageNet weights ({e.__class__.__name__}: {reason}); "
                        f"offline, pass --weights FILE with a vgg16_bn state_dict") from None
    finally:
        socket.setdefaulttimeout(previous)


def load_vgg16_bn_encoder(model: nn.Module, weights: str) -> str:
    """Initialise `model.encoder` from "imagenet" or a state_dict file; returns a description of the source.

    Accepted files: a torchvision vgg16_bn state_dict (`features.*`, classifier keys ignored), or a SegNet
    state_dict (`encoder.*`, decoder keys ignored), as .pt/.pth (torch.load weights_only) or .safetensors.
    """
    if not hasattr(model, "encoder") or model.input_size[0] != 3:
        raise ConfigError("--weights needs the segnet model with 3 input channels (VGG16-BN takes RGB)")
    if weights == "imagenet":
        state, source = imagenet_state_dict(), "torchvision VGG16_BN_Weights.IMAGENET1K_V1"
    else:
        path = Path(weights)
        state, source = read_state_dict(path), str(path)
    if any(k.startswith("features.") for k in state):
        mapping = vgg_key_map(model.encoder)
        state = fold_conv_bias({k: v for k, v in state.items() if k.startswith("features.")}, mapping)
        state = {mapping[k]: v for k, v in state.items() if k in mapping}
    elif any(k.startswith("encoder.") for k in state):
        state = {k: v for k, v in state.items() if k.startswith("encoder.")}
    else:
        example = next(iter(state), "nothing")
        raise DataError(f"{source}: no VGG16-BN `features.*` (or SegNet `encoder.*`) keys, found e.g. {example!r}")
    holder = nn.Module()
    holder.encoder = model.encoder
    check_state_fits(holder, state, source)
    holder.load_state_dict(state)
    return source
