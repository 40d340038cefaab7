"""The node-classification pipeline's entry points for `shinsou evaluate` and `shinsou predict` (training:
train.py): a run directory rebuilds its GCN; the graph is the run's own or one given with --data."""

from __future__ import annotations

from pathlib import Path

import torch

from shinsou.engine.runs import load_run_model
from shinsou.errors import DataError
from shinsou.graph.data import NodeGraph
from shinsou.graph.train import load_run_graph, score


def check_fits(model, graph: NodeGraph, config: dict) -> None:
    """A GCN applies to any graph whose nodes have the features it was trained on (same count, same classes)."""
    if graph.data.num_features != model.in_channels:
        raise DataError(f"{graph.source}: nodes have {graph.data.num_features} features, the run's model takes "
                        f"{model.in_channels} (trained on {config.get('data')})")


def evaluate_run(run_dir: str | Path, data: str | None = None) -> dict:
    """Accuracy on the graph's test nodes (labelled, never trained on), per class, and the confusion matrix."""
    model, config = load_run_model(run_dir)
    graph = load_run_graph(config, data)
    check_fits(model, graph, config)
    if graph.class_names != config.get("class_names"):
        raise DataError(f"{graph.source}: classes {graph.class_names} differ from the run's {config.get('class_names')}")
    return {"source": graph.source, **score(model, graph)}


@torch.no_grad()
def predict_run(run_dir: str | Path, files: list[str], out: str | None = None) -> list[dict]:
    """Each FILE is a graph (karate, a Planetoid folder, a nodes.csv + edges.csv folder): one result per node."""
    model, config = load_run_model(run_dir)
    class_names = config.get("class_names")
    results = []
    for source in files:
        graph = load_run_graph(config, source)
        check_fits(model, graph, config)
        probs = torch.softmax(model(graph.data), 1)  # (N, K)
        top = probs.argsort(1, descending=True)[:, :3]
        for v, node in enumerate(graph.node_ids):
            results.append({"input": f"{source}#{node}", "node": node, "class": class_names[int(top[v, 0])],
                            "index": int(top[v, 0]), "probability": float(probs[v, top[v, 0]]),
                            "top": [{"class": class_names[int(k)], "probability": float(probs[v, k])} for k in top[v]]})
    return results
