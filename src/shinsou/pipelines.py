"""Every pipeline, by command name: one line each. A pipeline is the package named here, offering
`config.Config`, `train.train(cfg, run)`, `predictor.load(run_dir)` and, optionally, `explore.explore(cfg, out)`,
`train.check(cfg)` and `commands.DATA_COMMANDS` (see docs/adding-a-pipeline.md)."""

from __future__ import annotations

import importlib
from types import ModuleType

from shinsou.errors import ConfigError, unknown_name

PIPELINES: dict[str, str] = {
    "mnist": "shinsou.mnist",
    "transfer": "shinsou.transfer",
    "segnet": "shinsou.segnet",
    "graph": "shinsou.graph",
    "molecules": "shinsou.molecules",
    "traffic": "shinsou.traffic",
}


def pipeline_part(name: str, part: str, optional: bool = False) -> ModuleType | None:
    """The `part` module (config, train, predictor, explore, commands) of pipeline `name`, imported on first use."""
    if name not in PIPELINES:
        raise unknown_name("pipeline", name, PIPELINES)
    module = f"{PIPELINES[name]}.{part}"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if optional and e.name == module:
            return None
        raise


def config_class(name: str) -> type:
    return pipeline_part(name, "config").Config


def require(name: str, part: str) -> ModuleType:
    module = pipeline_part(name, part, optional=True)
    if module is None:
        raise ConfigError(f"the {name} pipeline has no {part} step")
    return module
