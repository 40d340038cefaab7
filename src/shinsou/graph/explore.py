"""`shinsou explore graph`: the graph before training: nodes, edges, degrees, features, labelled nodes per class and
split, self-loops and isolated nodes, and the graph drawn with its known labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from shinsou.engine.explore import balance_table, write_explore
from shinsou.engine.report import Section, figure_path, save_figure
from shinsou.graph.config import Config
from shinsou.graph.data import NodeGraph, load_graph
from shinsou.graph.report import class_colours, class_handles, draw_graph, plt, ring_handle


def degrees(graph: NodeGraph) -> np.ndarray:
    """(N,) number of edges leaving each node, self-loops left out (both directions of an undirected edge are stored,
    so this is the usual degree there)."""
    src, dst = graph.data.edge_index
    keep = src != dst
    return torch.bincount(src[keep], minlength=graph.num_nodes).numpy()


def plot_degrees(deg: np.ndarray, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.hist(deg, bins=np.arange(deg.max() + 2) - 0.5 if deg.max() < 60 else 50, color="#4878a8")
    ax.set_xlabel("degree (edges per node)")
    ax.set_ylabel("nodes")
    if deg.max() >= 60:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.set_title("degree distribution")
    return save_figure(fig, path)


def plot_labels(graph: NodeGraph, path: Path) -> Path:
    """Nodes coloured by their known class (grey: unlabelled), training nodes ringed black."""
    y, train = graph.data.y.numpy(), graph.data.train_mask.numpy()
    colours = class_colours(len(graph.class_names))
    colour = lambda v: colours[y[v]] if y[v] >= 0 else "lightgrey"  # noqa: E731
    ring = lambda v: ("black", 2.5) if train[v] else ("white", 0.5)  # noqa: E731
    handles = [*class_handles(graph), ring_handle("black", "labelled for training")]
    if (y < 0).any():
        handles.append(plt.Line2D([], [], marker="o", ls="", color="lightgrey", label="unlabelled"))
    return draw_graph(graph, colour, ring, handles, "known labels", path)


def explore(cfg: Config, out: Path) -> dict:
    graph = load_graph(cfg.data, cfg.directed, cfg.train_fraction, cfg.val_fraction, cfg.seed)
    data = graph.data
    deg = degrees(graph)
    y = data.y.numpy()
    parts = {part: y[data[f"{part}_mask"].numpy()] for part in ("train", "val", "test")}
    labelled = y >= 0
    summary = {"source": graph.source, "nodes": graph.num_nodes, "directed edges": int(data.num_edges),
               "features per node": int(data.num_features), "classes": len(graph.class_names),
               "labelled nodes": int(labelled.sum()), "unlabelled nodes": int((~labelled).sum()),
               **{f"{part} nodes": len(v) for part, v in parts.items()},
               "mean degree": round(float(deg.mean()), 2), "max degree": int(deg.max()),
               "isolated nodes": int((deg == 0).sum()), "self-loops": int((data.edge_index[0] == data.edge_index[1]).sum()),
               "weighted edges": getattr(data, "edge_weight", None) is not None}
    sections = [
        Section("Labelled nodes per class and split", text=[
            "A GCN learns from the training nodes only; the test nodes are labelled nodes it never sees."],
            tables=[balance_table(y[labelled], graph.class_names, {**parts, "all labelled": y[labelled]})]),
        Section("Degrees", figures=[plot_degrees(deg, figure_path(out, "degrees.png"))]),
        Section("The graph", figures=[plot_labels(graph, figure_path(out, "graph.png"))]),
    ]
    return write_explore(out, f"shinsou explore · graph {Path(str(graph.source)).name}", summary, sections)
