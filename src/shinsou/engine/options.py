"""Pipeline options as dataclass fields with one line of help each; the common ones are declared here once.
`shinsou train <pipeline>` flags, their `--help` and the type checks of YAML and flag values all come from them."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from shinsou.errors import ConfigError

PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")


def option(default: Any = None, help: str = "", *, choices: tuple | None = None, flag: str | None = None,
           cli: bool = True, default_factory=None) -> Any:
    """A config field with its one line of help; `choices` are checked and listed; `cli=False` keeps it YAML-only."""
    metadata = {"help": help, "choices": choices, "flag": flag, "cli": cli}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class CommonConfig:
    """The options every pipeline has. A pipeline's Config subclasses this and may change the defaults."""

    data: str | None = option(None, "Data to train on (a file or folder, as the pipeline reads it); default: its embedded data.")
    out: str | None = option(None, "Run directory (default runs/PIPELINE-TIMESTAMP).")
    seed: int = option(0, "Seed for splits, shuffling, augmentation and initialisation.")
    epochs: int = option(10, "Epochs to train.")
    batch_size: int = option(64, "Examples per step and process.")
    lr: float = option(1e-3, "Peak learning rate.")
    devices: int = option(1, "Processes for data-parallel training (DDP through Lightning Fabric; gloo on CPU).")
    precision: str = option("auto", "auto (bf16 autocast where the CPU/GPU computes bf16 natively, else float32), "
                            "32-true, bf16-mixed or 16-mixed.", choices=PRECISIONS)


def fields_of(cls: type) -> list[dataclasses.Field]:
    return list(dataclasses.fields(cls))


def field_types(cls: type) -> dict[str, Any]:
    """Resolved annotations (the modules use `from __future__ import annotations`, so they are strings)."""
    return typing.get_type_hints(cls)


def base_type(annotation: Any) -> tuple[type, bool]:
    """`int | None` -> (int, True); `bool` -> (bool, False); containers -> (their origin, ...)."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        inner, _ = base_type(rest[0]) if len(rest) == 1 else (str, False)
        return inner, type(None) in args
    if origin is not None:
        return origin, False
    return annotation, False


def check_value(name: str, value: Any, annotation: Any, choices: tuple | None = None, source: str = "") -> Any:
    """The value converted where that is lossless (YAML 1 for a float field), else a ConfigError naming the key."""
    kind, optional = base_type(annotation)
    where = f"{source}: " if source else ""
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}{name!r} must be a {kind.__name__}, got nothing")
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}{name!r} must be true or false, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}{name!r} must be a whole number, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}{name!r} must be a number, got {value!r}")
        value = float(value)
    elif kind is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a YAML `weights: 0` or `freeze_until: 12` is a name
        if not isinstance(value, str):
            raise ConfigError(f"{where}{name!r} must be a string, got {value!r}")
    elif kind in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}{name!r} must be a list, got {value!r}")
    if choices and value not in choices:
        raise ConfigError(f"{where}unknown {name.replace('_', '-')} {value!r} (known: {', '.join(map(str, choices))})")
    return value


def check_config_types(cfg: Any, source: str = "") -> None:
    """Every field of a config dataclass against its annotation and choices, before anything runs."""
    hints = field_types(type(cfg))
    for f in fields_of(type(cfg)):
        value = check_value(f.name, getattr(cfg, f.name), hints[f.name], f.metadata.get("choices"), source)
        setattr(cfg, f.name, value)
