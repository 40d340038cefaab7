"""Which layers train: the lecture's recipe (freeze everything but the last two conv layers and the FC layers),
any other cut by layer name or index, and the fine-tuning second stage of Keras' and fastai's recipes."""

from __future__ import annotations

from torch import nn

from shinsou.errors import ConfigError


def freeze_cut(model, freeze: str | int | None, flag: str = "--freeze-until") -> int:
    """Index of the first unit that trains; every unit before it is frozen.

    lecture      -> the second-to-last conv unit (conv5_2 for VGG16), so the last two conv layers and
                    every FC layer train
    none / None  -> 0 (everything trains)
    all-but-head -> the head (only the new classifier trains)
    NAME / INDEX -> that unit (`conv5_1`, `layer4.0`, `blocks.15`, or its position in the list)
    """
    units = model.units
    names = [u.name for u in units]
    if freeze is None or freeze == "none":
        return 0
    if freeze == "lecture":
        convs = [i for i, u in enumerate(units) if u.kind == "conv"]
        return convs[-2] if len(convs) >= 2 else 0
    if freeze == "all-but-head":
        return len(units) - 1
    if isinstance(freeze, int) or (isinstance(freeze, str) and freeze.lstrip("-").isdigit()):
        index = int(freeze)
        if not 0 <= index < len(units):
            raise ConfigError(f"{flag} {index}: {model.backbone} has layers 0..{len(units) - 1} "
                              f"({names[0]} .. {names[-1]})")
        return index
    if freeze == "head":
        return len(units) - 1
    if freeze in names:
        return names.index(freeze)
    raise ConfigError(f"{flag} {freeze!r} names no layer of {model.backbone} (layers: {', '.join(names)})")


def apply_freeze(model, cut: int) -> None:
    """Units [0, cut) frozen (requires_grad False, BatchNorm in eval mode), units [cut, end) trainable."""
    frozen_paths = []
    for i, unit in enumerate(model.units):
        for path in unit.paths:
            for p in model.get_submodule(path).parameters():
                p.requires_grad_(i >= cut)
            if i < cut:
                frozen_paths.append(path)
    model.frozen_paths = tuple(frozen_paths)
    model.train(model.training)  # re-apply the eval mode of frozen BatchNorm


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def freeze_summary(model) -> dict:
    """Which units train and how many parameters are trainable vs frozen."""
    rows = []
    for unit in model.units:
        params = [p for path in unit.paths for p in model.get_submodule(path).parameters()]
        trainable = any(p.requires_grad for p in params)
        rows.append({"layer": unit.name, "kind": unit.kind, "params": sum(p.numel() for p in params),
                     "trainable": trainable})
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    return {"layers": rows, "trainable_params": trainable, "frozen_params": frozen,
            "trainable_layers": [r["layer"] for r in rows if r["trainable"]],
            "frozen_layers": [r["layer"] for r in rows if not r["trainable"]]}


def describe_freeze(model) -> list[str]:
    """Lines printed before training: what is frozen, what trains, parameter counts."""
    s = freeze_summary(model)
    total = s["trainable_params"] + s["frozen_params"]

    def span(names: list[str]) -> str:
        if not names:
            return "none"
        return ", ".join(names) if len(names) <= 6 else f"{names[0]} .. {names[-1]} ({len(names)} layers)"

    return [f"{model.backbone}: frozen {span(s['frozen_layers'])}",
            f"{model.backbone}: training {span(s['trainable_layers'])}",
            f"parameters: {s['trainable_params']:,} trainable, {s['frozen_params']:,} frozen "
            f"({100 * s['trainable_params'] / max(total, 1):.1f}% of {total:,} train)"]
