"""Config in layers, as timm does it: dataclass defaults <- a YAML file <- command-line flags.
The resolved config is written beside every checkpoint so that a run directory rebuilds its model."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, TypeVar

import yaml

from shinsou.errors import ConfigError, DataError

C = TypeVar("C")
CONFIG_FILE = "config.yaml"


def resolve_config(cls: type[C], config_file: str | os.PathLike | None = None, **flags: Any) -> C:
    """Defaults of `cls`, overridden by `config_file`'s keys, overridden by flags that are not None; every value
    is checked against its field's type and choices here, before anything runs."""
    from shinsou.engine.options import check_config_types

    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update({k: v for k, v in read_yaml(config_file).items() if k != "pipeline"})
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"{config_file}: unknown key {unknown[0]!r} (known: {', '.join(sorted(names))})")
        check_config_types(cls(**values), str(config_file))
    values.update({k: v for k, v in flags.items() if v is not None})
    cfg = cls(**values)
    check_config_types(cfg)
    return cfg


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def write_yaml_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, path)


def save_run_config(run_dir: Path, config: Any, **extra: Any) -> dict[str, Any]:
    """Write `config` (a dataclass) plus `extra` (model options, class names...) as RUN_DIR/config.yaml."""
    data = {**dataclasses.asdict(config), **extra}
    write_yaml_atomic(Path(run_dir) / CONFIG_FILE, data)
    return data


def load_run_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The resolved config of a run; says clearly when the folder is not a run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run directory")
    if not (run_dir / CONFIG_FILE).exists():
        raise DataError(f"{run_dir}: not a run directory (no {CONFIG_FILE}; train one with `shinsou train ...`)")
    return read_yaml(run_dir / CONFIG_FILE)


def resumed_config(config_class: type[C], run_dir: str | os.PathLike) -> C:
    """The config a run directory was started with, for --resume (keys the class no longer has are dropped)."""
    saved = load_run_config(run_dir)
    return resolve_config(config_class, **{k: v for k, v in saved.items() if k in config_class.__dataclass_fields__})


def update_run_config(run_dir: Path, **extra: Any) -> dict[str, Any]:
    """Add keys (class names, model options...) to RUN_DIR/config.yaml, rewriting it atomically."""
    data = {**load_run_config(run_dir), **extra}
    write_yaml_atomic(Path(run_dir) / CONFIG_FILE, data)
    return data
