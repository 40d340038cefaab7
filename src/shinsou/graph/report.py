"""The node-classification report's sections: accuracy on the unlabelled (test) nodes, the hidden-layer embedding in
2-D (PCA) before and after training coloured by class, and the graph drawn with its predicted communities."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from shinsou.engine.report import Section, figure_path, plot_confusion, plot_curves, save_figure  # noqa: E402
from shinsou.graph.data import NodeGraph  # noqa: E402

MAX_DRAWN = 600  # nodes drawn at most; bigger graphs show the neighbourhood of their best-connected node
MAX_TABLE = 100  # per-node table only for small graphs


def to_2d(embedding: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, 2): the embedding itself when D is 2, else its first two principal components."""
    if embedding.shape[1] == 2:
        return embedding
    centred = embedding - embedding.mean(0)
    if embedding.shape[1] == 1:
        return np.concatenate([centred, np.zeros_like(centred)], 1)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T  # (N, 2)


@torch.no_grad()
def hidden_and_probs(model, graph: NodeGraph) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    return model.features(graph.data).numpy(), torch.softmax(model(graph.data), 1).numpy()


def class_colours(k: int):
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(k)]


def plot_embedding(panels: list[tuple[str, np.ndarray]], graph: NodeGraph, path: Path) -> Path:
    """One scatter per (title, (N, D) embedding): colour = true class (grey where unknown), black-ringed
    large markers = the labelled training nodes."""
    y = graph.data.y.numpy()
    train = graph.data.train_mask.numpy()
    colours = class_colours(len(graph.class_names))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    for ax, (title, embedding) in zip(axes[0], panels):
        xy = to_2d(embedding)
        ax.scatter(*xy[y < 0].T, c="lightgrey", s=12, label="unlabelled")
        for k, name in enumerate(graph.class_names):
            members = (y == k) & ~train
            ax.scatter(*xy[members].T, color=colours[k], s=28 if len(y) < 200 else 6, label=name)
            ax.scatter(*xy[(y == k) & train].T, color=colours[k], s=130 if len(y) < 200 else 20, edgecolors="black",
                       linewidths=1.5)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][-1].legend(fontsize=7, loc="best", markerscale=0.8)
    fig.suptitle("hidden-layer embedding (2-D); ringed = labelled training nodes", fontsize=10)
    return save_figure(fig, path)


def drawn_nodes(graph: NodeGraph) -> np.ndarray:
    """All nodes of a small graph; for a big one, a breadth-first ball around the best-connected node."""
    n = graph.num_nodes
    if n <= MAX_DRAWN:
        return np.arange(n)
    edges = graph.data.edge_index.numpy()
    g = nx.Graph()
    g.add_edges_from(edges.T.tolist())
    start = max(g.degree, key=lambda item: item[1])[0]
    ball = []
    for node in nx.bfs_tree(g, start):
        ball.append(node)
        if len(ball) >= MAX_DRAWN:
            break
    return np.asarray(sorted(ball))


def draw_graph(graph: NodeGraph, colour_of, ring_of, handles: list, title: str, path: Path) -> Path:
    """The graph (or, for a big one, the neighbourhood of its best-connected node) with each node's colour and
    ring as `colour_of(v)` and `ring_of(v) -> (colour, width)` say, labelled with node ids when small."""
    keep = drawn_nodes(graph)
    keep_set = set(keep.tolist())
    g = nx.Graph()
    g.add_nodes_from(keep.tolist())
    g.add_edges_from((int(a), int(b)) for a, b in graph.data.edge_index.numpy().T if a in keep_set and b in keep_set and a != b)
    layout = nx.spring_layout(g, seed=0)
    small = len(keep) <= 60
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    nx.draw_networkx_edges(g, layout, ax=ax, alpha=0.3, width=0.8)
    nodes = list(g.nodes)
    rings = [ring_of(v) for v in nodes]
    nx.draw_networkx_nodes(g, layout, nodelist=nodes, ax=ax, node_size=260 if small else 25,
                           node_color=[colour_of(v) for v in nodes], edgecolors=[c for c, _ in rings],
                           linewidths=[w for _, w in rings])
    if small:
        nx.draw_networkx_labels(g, layout, labels={v: graph.node_ids[v] for v in nodes}, font_size=7, ax=ax)
    ax.legend(handles=handles, fontsize=7, loc="best")
    shown = "" if len(keep) == graph.num_nodes else f" ({len(keep)} of {graph.num_nodes} nodes shown)"
    ax.set_title(f"{title}{shown}")
    ax.axis("off")
    return save_figure(fig, path)


def ring_handle(colour: str, label: str):
    return plt.Line2D([], [], marker="o", ls="", color="white", markeredgecolor=colour, markeredgewidth=2, label=label)


def class_handles(graph: NodeGraph) -> list:
    colours = class_colours(len(graph.class_names))
    return [plt.Line2D([], [], marker="o", ls="", color=colours[k], label=name) for k, name in enumerate(graph.class_names)]


def plot_graph(graph: NodeGraph, probs: np.ndarray, path: Path) -> Path:
    """Nodes coloured by predicted community; ringed black = labelled for training, ringed red = wrong prediction."""
    predicted = probs.argmax(1)
    y, train = graph.data.y.numpy(), graph.data.train_mask.numpy()
    colours = class_colours(len(graph.class_names))
    wrong = {v for v in drawn_nodes(graph).tolist() if y[v] >= 0 and not train[v] and predicted[v] != y[v]}
    ring = lambda v: ("black", 2.5) if train[v] else (("red", 2.5) if v in wrong else ("white", 0.5))  # noqa: E731
    handles = [*class_handles(graph), ring_handle("black", "labelled for training")]
    if wrong:
        handles.append(ring_handle("red", "wrong prediction"))
    return draw_graph(graph, lambda v: colours[predicted[v]], ring, handles, "predicted communities", path)


def node_table(graph: NodeGraph, probs: np.ndarray) -> list[list]:
    y, train = graph.data.y.numpy(), graph.data.train_mask.numpy()
    rows = [["node", "role", "true", "predicted", "probability"]]
    for v in range(graph.num_nodes):
        role = "train" if train[v] else ("val" if graph.data.val_mask[v] else ("test" if graph.data.test_mask[v] else "-"))
        rows.append([graph.node_ids[v], role, graph.class_names[y[v]] if y[v] >= 0 else "?",
                     graph.class_names[probs[v].argmax()], float(probs[v].max())])
    return rows


def report_sections(run_dir: Path, cfg, history: list[dict], metrics: dict, model, untrained,
                    graph: NodeGraph) -> list[Section]:
    hidden, probs = hidden_and_probs(model, graph)
    before, _ = hidden_and_probs(untrained, graph)
    steps = [{**h, "epoch": h.get("step", h["epoch"])} for h in history]  # x axis: full-graph steps
    curves = plot_curves(steps, figure_path(run_dir, "curves.png"), ("loss", "accuracy"))
    embedding = plot_embedding([("untrained GCN (random weights)", before),
                                (f"trained: test accuracy {metrics['accuracy']:.3f}", hidden)],
                               graph, figure_path(run_dir, "embedding.png"))
    drawing = plot_graph(graph, probs, figure_path(run_dir, "communities.png"))
    summary = {"accuracy on unlabelled (test) nodes": metrics["accuracy"], "test nodes": metrics["n"],
               "train accuracy": metrics["train_accuracy"], "validation accuracy": metrics.get("val_accuracy"),
               "nodes": graph.num_nodes, "directed edges": int(graph.data.num_edges),
               "features": int(graph.data.num_features), "classes": len(graph.class_names),
               "training steps (epochs)": cfg.epochs, "training time (s)": round(sum(h.get("seconds", 0) for h in history), 2)}
    sections = [Section("Summary", text=["Semi-supervised GCN (Kipf & Welling 2017): the loss sees only the labelled "
                                         "training nodes; accuracy is measured on labelled nodes it never saw."],
                        tables=[summary]),
                Section("Hidden-layer embedding", figures=[embedding]),
                Section("Predicted communities", figures=[drawing]),
                Section("Learning curves", text=["Without validation nodes the 'val' curve is the training nodes "
                                                 "measured without dropout." if not graph.data.val_mask.any() else ""],
                        figures=[curves])]
    if metrics.get("n"):
        sections.append(Section("Test nodes: confusion matrix", figures=[
            plot_confusion(metrics["confusion_matrix"], graph.class_names, figure_path(run_dir, "confusion.png"))]))
    if graph.num_nodes <= MAX_TABLE:
        sections.append(Section("Every node", tables=[node_table(graph, probs)]))
    return sections
