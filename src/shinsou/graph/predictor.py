"""A trained node-classification run loaded once: its GCN and its graph (a GCN predicts a node from the whole graph),
with every node's class probabilities computed at load. Inputs are node ids of that graph, or a graph (karate, a
Planetoid name or folder, a nodes.csv + edges.csv folder) for every node of it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from shinsou.engine.checkpoint import BEST, load_weights
from shinsou.engine.config import load_run_config
from shinsou.engine.predictor import as_list, check_class_names
from shinsou.engine.records import class_record
from shinsou.errors import DataError
from shinsou.graph.data import PLANETOID, NodeGraph
from shinsou.graph.model import check_fits, run_graph, score
from shinsou.models import build_model


@torch.no_grad()
def node_probabilities(model, graph: NodeGraph) -> np.ndarray:
    """(N, K) class probabilities of every node of `graph`."""
    return torch.softmax(model(graph.data), 1).numpy()


def names_a_graph(item: Any) -> bool:
    text = str(item)
    return text.lower() in ("karate", *PLANETOID) or Path(text).exists()


class GraphPredictor:
    """The run's GCN, its graph and every node's probabilities, loaded once."""

    def __init__(self, run_dir: Path, model, config: dict, graph: NodeGraph):
        self.run_dir, self.model, self.config, self.graph = Path(run_dir), model, config, graph
        self.class_names = config.get("class_names") or graph.class_names
        self.probs = node_probabilities(model, graph)  # (N, K)
        self.index = {node: v for v, node in enumerate(graph.node_ids)}

    def predict(self, inputs: Sequence[Any], top: int = 3) -> list[dict]:
        """One record per node: a node id of the run's graph (str or int) gives that node; anything else that names a
        graph (karate, cora..., a folder) gives every node of that graph, as `GRAPH#NODE`. Node ids come first."""
        records = []
        for item in as_list(inputs):
            node = str(item)
            if node in self.index:
                v = self.index[node]
                records.append(class_record(self.probs[v], self.class_names, top, input=node, node=node))
            elif names_a_graph(item):
                graph = run_graph(self.config, str(item))
                check_fits(self.model, graph, self.config)
                probs = node_probabilities(self.model, graph)
                records += [class_record(p, self.class_names, top, input=f"{item}#{n}", node=n)
                            for n, p in zip(graph.node_ids, probs)]
            else:
                ids = self.graph.node_ids
                shown = ", ".join(ids[:5]) + (f", ... ({len(ids)} nodes)" if len(ids) > 5 else "")
                raise DataError(f"{node}: not a node of the run's graph {self.graph.source} ({shown}), nor a graph "
                                f"(karate, {', '.join(PLANETOID)}, or a folder)")
        return records

    def evaluate(self, data: str | None = None) -> dict:
        """Accuracy on the graph's test nodes (labelled, never trained on), per class, and the confusion matrix; on
        the run's graph or another one (`data`) whose nodes have the same features and classes."""
        graph = self.graph if data is None else run_graph(self.config, data)
        check_fits(self.model, graph, self.config)
        check_class_names(self.class_names, graph.class_names, graph.source)
        return {"source": graph.source, **score(self.model, graph)}

    def example_input(self) -> str:
        """A node id of the run's graph: its first test node (else its first node)."""
        test = np.flatnonzero(self.graph.data.test_mask.numpy())
        return self.graph.node_ids[int(test[0]) if len(test) else 0]


def load(run_dir: str | os.PathLike) -> GraphPredictor:
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    name = config.get("model", "gcn-node")
    model = load_weights(build_model(name, **config["model_options"]), run_dir / BEST).eval()
    return GraphPredictor(run_dir, model, config, run_graph(config))
