"""`shinsou train graph`: the command-line face of communities/train.py (flags over a YAML config over defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from shinsou.console import console, print_json


def train_graph_command(
    data: Optional[str] = typer.Option(None, "--data", help=(
        "The graph: 'karate' (default: Zachary's karate club, 4 communities, one labelled member each); "
        "'cora', 'citeseer' or 'pubmed' (torch_geometric's Planetoid loader, downloaded once into ~/.cache/shinsou "
        "when online, standard split); a folder of Planetoid raw files ind.NAME.x ... (read in place; they are Python "
        "pickles, so use only files you downloaded yourself from a source you trust); or a folder with nodes.csv "
        "(id, numeric features..., optional label, optional split train/val/test) and edges.csv (source, target, "
        "optional positive weight), optionally labels.csv (id, label).")),
    directed: Optional[bool] = typer.Option(None, "--directed/--undirected", help="CSV graphs: edges go source -> target only, or both ways (default undirected)."),
    hidden: Optional[int] = typer.Option(None, "--hidden", help="Units per hidden GCN layer (default 16, as Kipf & Welling)."),
    layers: Optional[int] = typer.Option(None, "--layers", help="Hidden GCN layers before the output GCN layer (default 1)."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="Dropout before each GCN layer (default 0.5)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Full-graph training steps (default 200)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate (default 0.01)."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="L2 weight decay (default 5e-4)."),
    train_fraction: Optional[float] = typer.Option(None, "--train-fraction", help="CSV graphs without a split column: share of each class's labelled nodes to train on (default 0.5)."),
    val_fraction: Optional[float] = typer.Option(None, "--val-fraction", help="... and to validate on (default 0.2); the rest are test nodes."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for initialisation, dropout and the CSV split (default 0)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of config keys; flags override it."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/graph-TIMESTAMP)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue an interrupted run directory to its planned epochs."),
    as_json: bool = typer.Option(False, "--json", help="Print the test metrics as one JSON object."),
):
    """Semi-supervised node classification with a GCN (Kipf & Welling 2017): accuracy on unlabelled nodes, report."""
    from shinsou.engine.config import resolve_config
    from shinsou.graph.train import GraphConfig, train_graph

    cfg = resolve_config(GraphConfig, config, data=data, directed=directed, hidden=hidden, layers=layers,
                         dropout=dropout, epochs=epochs, lr=lr, weight_decay=weight_decay,
                         train_fraction=train_fraction, val_fraction=val_fraction, seed=seed,
                         out=str(out) if out else None)
    result = train_graph(cfg, resume=resume)
    m = result.metrics
    if as_json:
        print_json({**m, "run_dir": str(result.run_dir), "report": str(result.report)})
        return
    console.print(f"accuracy on unlabelled nodes [bold]{m['accuracy']:.4f}[/bold] ({m['n']} test nodes of {m['source']})")
    console.print(f"report: {result.report}")
