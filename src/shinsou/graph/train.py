"""Semi-supervised node classification as Kipf & Welling 2017 train it: the whole graph in every step, the
cross-entropy on labelled training nodes only; Adam (lr 0.01, weight decay 5e-4), dropout 0.5, 200 epochs."""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from shinsou.engine.checkpoint import BEST, load_weights
from shinsou.engine.config import load_run_config, resumed_config, save_run_config
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.runs import TrainResult, prepare_run_dir, write_json_atomic
from shinsou.engine.trainer import evaluate, fit, make_fabric
from shinsou.errors import ConfigError
from shinsou.graph.data import NodeGraph, load_graph
from shinsou.graphs.gcn import ACTIVATIONS
from shinsou.models import build_model

MODEL = "gcn-node"
SMALL_GRAPH = 1_000_000  # nodes x features below which training uses one thread


@dataclass
class GraphConfig:
    pipeline: str = "graph"
    data: str = "karate"  # karate, cora/citeseer/pubmed, a Planetoid raw folder, or a nodes.csv + edges.csv folder
    directed: bool = False  # CSV graphs: keep edges one way (source -> target) instead of both ways
    hidden: int = 16
    layers: int = 1  # hidden GCN layers before the output GCN layer (Kipf & Welling: 1, i.e. a 2-layer GCN)
    dropout: float = 0.5
    activation: str = "relu"
    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 5e-4
    train_fraction: float = 0.5  # CSV graphs without a split column: labelled nodes per class used for training
    val_fraction: float = 0.2
    seed: int = 0
    out: str | None = None


def check_config(cfg: GraphConfig) -> None:
    for name in ("epochs", "hidden", "layers"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"--{name} must be at least 1, got {getattr(cfg, name)}")
    if not cfg.lr > 0:
        raise ConfigError(f"--lr must be positive, got {cfg.lr}")
    if not 0 <= cfg.dropout < 1:
        raise ConfigError(f"--dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.activation not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {cfg.activation!r} (known: {', '.join(ACTIVATIONS)})")
    if not (0 < cfg.train_fraction < 1 and 0 <= cfg.val_fraction < 1 and cfg.train_fraction + cfg.val_fraction <= 1):
        raise ConfigError(f"--train-fraction and --val-fraction must be fractions that add up to at most 1, "
                          f"got {cfg.train_fraction} and {cfg.val_fraction}")


def model_options(cfg: GraphConfig, graph: NodeGraph) -> dict:
    return {"in_channels": int(graph.data.num_features), "num_classes": len(graph.class_names),
            "hidden": [cfg.hidden] * cfg.layers, "dropout": cfg.dropout, "activation": cfg.activation}


def load_run_graph(config: dict, data: str | None = None) -> NodeGraph:
    """The graph a run was trained on (or `data`), with the run's split options."""
    return load_graph(data or config.get("data"), config.get("directed", False), config.get("train_fraction", 0.5),
                      config.get("val_fraction", 0.2), config.get("seed", 0))


def masked_forward(model, batch):
    """batch = (graph, part): the model sees the whole graph; loss and metrics use the nodes of `part` only."""
    data, part = batch
    mask = data[f"{part}_mask"]
    return model(data)[mask], data.y[mask]  # (n_part, K) logits, (n_part,) classes


@contextmanager
def threads_for(graph: NodeGraph):
    """One intra-op thread for small graphs: karate's 34 x 34 products cost less than the threads' synchronisation
    (on a busy 2-core machine 2 threads made 200 steps about five times slower). Restored afterwards."""
    before = torch.get_num_threads()
    small = graph.num_nodes * max(1, graph.data.num_features) < SMALL_GRAPH
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            torch.set_num_threads(before)


def steps_per_check(steps: int, most: int = 10) -> int:
    """Full-graph steps per engine epoch: the largest divisor of `steps` up to `most` (200 -> 10, 30 -> 10, 7 -> 7)."""
    return max(d for d in range(1, most + 1) if steps % d == 0)


def every(n: int, log, chunk: int = 1):
    """A log that keeps the first epoch line and every n-th, counting full-graph steps ("epoch 20/200")."""
    count = {"i": 0}

    def write(line: str) -> None:
        match = re.match(r"epoch (\d+)/(\d+)", line)
        if not match:
            log(line)
            return
        count["i"] += 1
        if count["i"] == 1 or count["i"] % n == 0:
            done, total = int(match.group(1)) * chunk, int(match.group(2)) * chunk
            log(f"epoch {done}/{total}" + line[match.end():])

    return write


def score(model, graph: NodeGraph) -> dict:
    """Accuracy (and per-class metrics) on the test nodes: labelled nodes the model was not trained on."""
    k = len(graph.class_names)
    result = {}
    for part in ("train", "val", "test"):
        if graph.data[f"{part}_mask"].any():
            stats = evaluate(model, [(graph.data, part)], F.cross_entropy, lambda: ConfusionMatrix(k), masked_forward)
            result[part] = stats
    test = result.get("test", {"accuracy": float("nan"), "n": 0})
    return {**test, "train_accuracy": result["train"]["accuracy"],
            "val_accuracy": result["val"]["accuracy"] if "val" in result else None,
            "class_names": graph.class_names}


def train_graph(cfg: GraphConfig, resume: str | Path | None = None, log=None) -> TrainResult:
    """Train (or resume) a GCN node classifier; returns the run directory and the accuracy on test nodes."""
    log = log or (lambda line: print(line, file=sys.stderr))
    if resume is not None:
        run_dir = Path(resume)
        cfg = resumed_config(GraphConfig, run_dir)
    check_config(cfg)
    torch.manual_seed(cfg.seed)
    graph = load_graph(cfg.data, cfg.directed, cfg.train_fraction, cfg.val_fraction, cfg.seed)
    options = model_options(cfg, graph)
    data = graph.data
    if resume is None:
        run_dir = prepare_run_dir(cfg.out, "graph")
        save_run_config(run_dir, cfg, model=MODEL, model_options=options, class_names=graph.class_names)
    n_train, n_val, n_test = (int(data[f"{p}_mask"].sum()) for p in ("train", "val", "test"))
    log(f"GCN on {graph.source}: {graph.num_nodes} nodes, {data.num_edges} directed edges, {data.num_features} "
        f"features, {len(graph.class_names)} classes; labelled for training {n_train}, validation {n_val}, "
        f"test {n_test}; run directory {run_dir}")

    with threads_for(graph):
        return _train(cfg, graph, options, run_dir, resume, log)


def _train(cfg: GraphConfig, graph: NodeGraph, options: dict, run_dir: Path, resume, log) -> TrainResult:
    data = graph.data
    n_val = int(data.val_mask.sum())
    fabric = make_fabric(1)
    model = build_model(MODEL, **options)
    untrained = build_model(MODEL, **options)  # the same initial weights, kept for the report's "before" picture
    untrained.load_state_dict(model.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # The best epoch: the best validation accuracy; without validation nodes (karate's one label per community)
    # the lowest loss on the training nodes measured without dropout, which is what the "val" curve then shows.
    val_batches = [(data, "val")] if n_val else [(data, "train")]
    monitor, mode = ("accuracy", "max") if n_val else ("loss", "min")
    # An "epoch" of Kipf & Welling is one full-graph step; the engine's epoch (validate, checkpoint) holds `chunk`
    # of them, so that 200 steps do not write 200 checkpoints.
    chunk = steps_per_check(cfg.epochs)
    history = fit(fabric, model, optimizer, [(data, "train")] * chunk, val_batches, loss_fn=F.cross_entropy,
                  new_metric=lambda: ConfusionMatrix(len(graph.class_names)), epochs=cfg.epochs // chunk,
                  run_dir=run_dir, forward=masked_forward, monitor=monitor, mode=mode, seed=cfg.seed,
                  resume=resume is not None, log=every(max(1, cfg.epochs // chunk // 10), log, chunk))
    for record in history:
        record["step"] = record["epoch"] * chunk

    final = build_model(MODEL, **options)
    load_weights(final, run_dir / BEST)
    final.eval()
    metrics = {"source": graph.source, **score(final, graph)}
    write_json_atomic(run_dir / "metrics.json", metrics)

    from shinsou.graph.report import write_graph_report

    report = write_graph_report(run_dir, load_run_config(run_dir), history, metrics, final, untrained, graph)
    return TrainResult(run_dir, metrics, report)
