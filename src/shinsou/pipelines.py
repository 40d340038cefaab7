"""Which module serves `shinsou evaluate` and `shinsou predict` for a run, by the `pipeline` key of its
config.yaml. A plain dict; modules are imported only when a run of that pipeline is used."""

from __future__ import annotations

import importlib
from types import ModuleType

from shinsou.errors import unknown_name

# pipeline -> module with evaluate_run(run_dir, data=None, **options) and predict_run(run_dir, files, **options)
PIPELINES: dict[str, str] = {
    "mnist": "shinsou.cnn.pipeline",
    "transfer": "shinsou.transfer.pipeline",
    "graph": "shinsou.graphs.communities.pipeline",
    "molecules": "shinsou.graphs.molecules.pipeline",
    "segnet": "shinsou.segmentation.pipeline",
    "traffic": "shinsou.graphs.traffic.pipeline",
}


def pipeline_module(name: str) -> ModuleType:
    if name not in PIPELINES:
        raise unknown_name("pipeline", name, PIPELINES)
    return importlib.import_module(PIPELINES[name])
