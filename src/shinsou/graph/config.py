"""The graph pipeline's options: semi-supervised node classification with a GCN, trained as Kipf & Welling 2017 do
(the whole graph in every step, Adam lr 0.01, weight decay 5e-4, dropout 0.5, 200 steps); one flag per field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shinsou.engine.options import CommonConfig, option

NODE_MODELS = ("gcn-node",)  # names of shinsou.models.MODELS, as every pipeline's --model
ACTIVATIONS = ("relu", "tanh")  # graphs.gcn.ACTIVATIONS, named here so that --help imports no torch_geometric


@dataclass
class Config(CommonConfig):
    """Semi-supervised node classification with a GCN (Kipf & Welling 2017): accuracy on unlabelled nodes, report."""

    main_metric: ClassVar[str] = "accuracy"

    data: str | None = option("karate", (
        "The graph: 'karate' (Zachary's karate club, 4 communities, one labelled member each; under a second of "
        "training); 'cora', 'citeseer' or 'pubmed' (torch_geometric's Planetoid loader, downloaded once into "
        "~/.cache/shinsou when online, standard split); a folder of Planetoid raw files ind.NAME.x ... (read in "
        "place; they are Python pickles, so use only files you downloaded yourself from a source you trust); or a "
        "folder with nodes.csv (id, numeric features..., optional label, optional split train/val/test) and "
        "edges.csv (source, target, optional positive weight), optionally labels.csv (id, label)."))
    directed: bool = option(False, "CSV graphs: edges go source -> target only (--directed) or both ways (--undirected).",
                            flag="--directed/--undirected")
    model: str = option("gcn-node", "The node classifier: gcn-node (Kipf & Welling: GCN layers, then a GCN layer "
                        "that gives each node its class logits).", choices=NODE_MODELS)
    hidden: int = option(16, "Units per hidden GCN layer (16, as Kipf & Welling).")
    layers: int = option(1, "Hidden GCN layers before the output GCN layer (1: the paper's two-layer GCN).")
    dropout: float = option(0.5, "Dropout before each GCN layer.")
    activation: str = option("relu", "Activation after each hidden GCN layer.", choices=ACTIVATIONS)
    epochs: int = option(200, "Full-graph training steps (checkpointed every 10 or fewer).")
    lr: float = option(0.01, "Adam learning rate.")
    weight_decay: float = option(5e-4, "L2 weight decay.")
    train_fraction: float = option(0.5, "CSV graphs without a split column: share of each class's labelled nodes "
                                   "to train on.")
    val_fraction: float = option(0.2, "... and to validate on; the rest are test nodes.")
    seed: int = option(0, "Seed for initialisation, dropout and the CSV split.")
    # every step is the whole graph in one process: there is no batch to size and nothing to split across devices
    batch_size: int = option(1, "Not used: every step is the whole graph.", cli=False)
    devices: int = option(1, "One process: every step is the whole graph.", cli=False)
