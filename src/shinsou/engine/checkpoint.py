"""Checkpoints: model weights as safetensors, the resumable training state as a plain dict read
with `torch.load(weights_only=True)`; every file is written to a temporary name and renamed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from shinsou.errors import DataError

BEST, LAST, TRAIN_STATE = "best.safetensors", "last.safetensors", "train_state.pt"


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside Fabric / DDP wrappers."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return model


def save_weights(model: nn.Module, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    path = Path(path)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in unwrap(model).state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


def load_weights(model: nn.Module, path: str | os.PathLike, strict: bool = True) -> nn.Module:
    """Load safetensors weights into `model`; a file that does not fit names the first missing and unexpected keys."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such checkpoint")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise DataError(f"{path}: not a readable safetensors checkpoint ({e})") from None
    check_state_fits(unwrap(model), state, path)
    unwrap(model).load_state_dict(state, strict=strict)
    return model


def check_state_fits(model: nn.Module, state: dict[str, torch.Tensor], source) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {missing[0]!r}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
        if unexpected:
            parts.append(f"unexpected {unexpected[0]!r}" + (f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else ""))
        raise DataError(f"{source}: weights do not fit the model: {'; '.join(parts)}")
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise DataError(f"{source}: weights do not fit the model: {k!r} has shape {tuple(v.shape)}, model expects {tuple(expected[k].shape)}")


def copy_atomic(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy a checkpoint so that `target` is always whole: written beside it, then renamed over it."""
    target = Path(target)
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return target


def save_train_state(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_train_state(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no training state to resume from")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, not a torch file, or holding objects weights_only refuses
        raise DataError(f"{path}: the training state cannot be read ({e.__class__.__name__}); the run cannot be "
                        f"resumed, start a new one") from None
    if not isinstance(state, dict) or "history" not in state:
        raise DataError(f"{path}: not a shinsou training state")
    return state
