"""The node GCN as training builds it and a Predictor rebuilds it (Kipf & Welling 2017): its options from the config
and the graph, the masked forward that fits and scores it on one part of the nodes, and its scores per part."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from shinsou.engine.evaluation import evaluate
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.errors import DataError
from shinsou.graph.data import NodeGraph, load_graph


def model_options(cfg: Any, graph: NodeGraph) -> dict:
    """The builder's keyword options (shinsou.models' gcn-node), recorded in config.yaml to rebuild the model."""
    return {"in_channels": int(graph.data.num_features), "num_classes": len(graph.class_names),
            "hidden": [cfg.hidden] * cfg.layers, "dropout": cfg.dropout, "activation": cfg.activation}


def run_graph(config: dict, data: str | None = None) -> NodeGraph:
    """The graph a run was trained on (or `data`), split with the run's options."""
    return load_graph(data or config.get("data"), config.get("directed", False), config.get("train_fraction", 0.5),
                      config.get("val_fraction", 0.2), config.get("seed", 0))


def check_fits(model, graph: NodeGraph, config: dict) -> None:
    """A GCN applies to any graph whose nodes have the features it was trained on (same count)."""
    if graph.data.num_features != model.in_channels:
        raise DataError(f"{graph.source}: nodes have {graph.data.num_features} features, the run's model takes "
                        f"{model.in_channels} (trained on {config.get('data')})")


def masked_forward(model, batch):
    """batch = (graph, part): the model sees the whole graph; loss and metrics use the nodes of `part` only."""
    data, part = batch
    mask = data[f"{part}_mask"]
    return model(data)[mask], data.y[mask]  # (n_part, K) logits, (n_part,) classes


def score(model, graph: NodeGraph) -> dict:
    """Accuracy (and per-class metrics) on the test nodes, labelled nodes the model was not trained on; the
    accuracy on the training and validation nodes beside it."""
    k = len(graph.class_names)
    result = {}
    for part in ("train", "val", "test"):
        if graph.data[f"{part}_mask"].any():
            result[part] = evaluate(model, [(graph.data, part)], F.cross_entropy, lambda: ConfusionMatrix(k),
                                    masked_forward)
    test = result.get("test", {"accuracy": float("nan"), "n": 0})
    return {**test, "train_accuracy": result["train"]["accuracy"],
            "val_accuracy": result["val"]["accuracy"] if "val" in result else None,
            "class_names": graph.class_names}
