"""The molecule GCN as training builds it and a Predictor rebuilds it: its builder options from the config, one
stage per ensemble member, the molecules as graphs with the run's descriptors, outputs as probabilities or values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from shinsou.engine.checkpoint import BEST, load_weights
from shinsou.graphs.gcn import GRAPH_CONFIGS
from shinsou.models import build_model
from shinsou.molecules.batches import GraphBatches
from shinsou.molecules.data import MoleculeSet, descriptor_set, graph_features, to_graphs
from shinsou.molecules.featurize import ATOM_FEATURES, BOND_FEATURES, DESCRIPTOR_SETS, FINGERPRINT_BITS
from shinsou.molecules.metrics import classification_scores, regression_scores

MODEL = "gcn-graph"  # shinsou.models' builder; the config's `model` (gcn, gcn-jk) is its architecture


def model_options(cfg: Any, num_outputs: int) -> dict:
    """The builder's keyword options, recorded in config.yaml so that the run rebuilds its model."""
    arch = GRAPH_CONFIGS[cfg.model]
    width = cfg.hidden or arch["hidden"][0]
    layers = cfg.layers or len(arch["hidden"])
    graph_feature_dim = FINGERPRINT_BITS * cfg.fingerprint + DESCRIPTOR_SETS[descriptor_set(cfg.descriptors)]
    options = {"in_channels": ATOM_FEATURES, "num_outputs": num_outputs, "config": cfg.model,
               "hidden": [width] * layers, "head": [width],
               "edge_dim": BOND_FEATURES if arch["edge_dim"] else 0, "graph_feature_dim": graph_feature_dim}
    if graph_feature_dim:
        options["graph_feature_clip"] = True
    if cfg.ensemble > 1:
        options["ensemble"] = cfg.ensemble
    return options


def member_stage(k: int, ensemble: int) -> str:
    """Where ensemble member k trains (its checkpoints and training state): RUN_DIR/member-K; one GCN: RUN_DIR."""
    return "" if ensemble == 1 else f"member-{k}"


def members(model) -> list:
    """The GCNs of a model: an ensemble's members, or the model itself."""
    return list(model.members) if hasattr(model, "members") else [model]


def load_gcn(run_dir: str | Path, options: dict):
    """The run's GCN (or ensemble) with every member's kept weights, in eval mode."""
    model = build_model(MODEL, **options)
    parts = members(model)
    for k, member in enumerate(parts):
        load_weights(member, Path(run_dir) / member_stage(k, len(parts)) / BEST)
    return model.eval()


def graphs_for(config: dict, molecules: MoleculeSet, fps: np.ndarray | None = None):
    """The molecules as the run's model takes them (with the Morgan bits / descriptors it was trained with)."""
    return to_graphs(molecules, graph_features(molecules, config.get("fingerprint", False),
                                               config.get("descriptors", "none"), fps))


@torch.no_grad()
def predict_outputs(model, graphs, batch_size: int = 256) -> np.ndarray:
    """Classification: (M, K) probabilities; regression: (M,) values."""
    model.eval()
    outputs = [model(batch) for batch in GraphBatches(graphs, batch_size)]
    if not outputs:
        return np.zeros((0,))
    out = torch.cat(outputs)
    return torch.softmax(out, 1).numpy() if out.shape[1] > 1 else out.reshape(-1).numpy()


def scores(outputs: np.ndarray, targets: np.ndarray, task: str) -> dict:
    return classification_scores(outputs, targets) if task == "classification" else regression_scores(outputs, targets)
