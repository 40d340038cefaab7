"""Semi-supervised node classification as Kipf & Welling 2017 train it: the whole graph in every step, the
cross-entropy on labelled training nodes only; Adam (lr 0.01, weight decay 5e-4), dropout 0.5, 200 steps."""

from __future__ import annotations

import dataclasses
import re
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

from shinsou.engine.metrics import ConfusionMatrix
from shinsou.errors import ConfigError
from shinsou.graph.config import Config
from shinsou.graph.data import NodeGraph, load_graph
from shinsou.graph.model import masked_forward, model_options, score
from shinsou.models import build_model

SMALL_GRAPH = 1_000_000  # nodes x features below which training uses one thread


def check(cfg: Config) -> None:
    for name in ("hidden", "layers"):
        if getattr(cfg, name) < 1:
            raise ConfigError(f"--{name} must be at least 1, got {getattr(cfg, name)}")
    if not 0 <= cfg.dropout < 1:
        raise ConfigError(f"--dropout must be in [0, 1), got {cfg.dropout}")
    if not (0 < cfg.train_fraction < 1 and 0 <= cfg.val_fraction < 1 and cfg.train_fraction + cfg.val_fraction <= 1):
        raise ConfigError(f"--train-fraction and --val-fraction must be fractions that add up to at most 1, "
                          f"got {cfg.train_fraction} and {cfg.val_fraction}")
    if cfg.devices != 1:
        raise ConfigError(f"devices: the graph pipeline trains in one process (every step is the whole graph), "
                          f"got {cfg.devices}")


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


def train(cfg: Config, run) -> dict:
    """Fit a GCN node classifier on the graph's training nodes; score the test nodes (labelled, never trained on)."""
    torch.manual_seed(cfg.seed)
    graph = load_graph(cfg.data, cfg.directed, cfg.train_fraction, cfg.val_fraction, cfg.seed)
    options = model_options(cfg, graph)
    data = graph.data
    run.record(model_options=options, class_names=graph.class_names)
    n_train, n_val, n_test = (int(data[f"{p}_mask"].sum()) for p in ("train", "val", "test"))
    run.info(f"GCN on {graph.source}: {graph.num_nodes} nodes, {data.num_edges} directed edges, {data.num_features} "
             f"features, {len(graph.class_names)} classes; labelled for training {n_train}, validation {n_val}, "
             f"test {n_test}; run directory {run.dir}")
    with threads_for(graph):
        return fit_and_score(cfg, run, graph, options)


def fit_and_score(cfg: Config, run, graph: NodeGraph, options: dict) -> dict:
    data = graph.data
    model = build_model(cfg.model, **options)
    untrained = build_model(cfg.model, **options)  # the same initial weights, kept for the report's "before" picture
    untrained.load_state_dict(model.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # The best epoch: the best validation accuracy; without validation nodes (karate's one label per community)
    # the lowest loss on the training nodes measured without dropout, which is what the "val" curve then shows.
    n_val = int(data.val_mask.sum())
    val_batches = [(data, "val")] if n_val else [(data, "train")]
    monitor, mode = ("accuracy", "max") if n_val else ("loss", "min")
    # An "epoch" of Kipf & Welling is one full-graph step; the engine's epoch (validate, checkpoint) holds `chunk`
    # of them, so that 200 steps do not write 200 checkpoints. The epoch lines count steps, every tenth shown.
    chunk = steps_per_check(cfg.epochs)
    run.plan(cfg.epochs // chunk)
    stepped = dataclasses.replace(run, log=every(max(1, cfg.epochs // chunk // 10), run.log, chunk))
    history = stepped.fit(model, optimizer, [(data, "train")] * chunk, val_batches, loss_fn=F.cross_entropy,
                          new_metric=lambda: ConfusionMatrix(len(graph.class_names)), epochs=cfg.epochs // chunk,
                          forward=masked_forward, monitor=monitor, mode=mode)
    if not run.is_main:
        return {}
    for record in history:
        record["step"] = record["epoch"] * chunk

    final = run.best(build_model(cfg.model, **options))
    metrics = {"source": graph.source, **score(final, graph)}

    from shinsou.graph.report import report_sections

    run.report(f"shinsou · GCN node classification on {Path(str(cfg.data)).name}",
               report_sections(run.dir, cfg, history, metrics, final, untrained, graph))
    return metrics
