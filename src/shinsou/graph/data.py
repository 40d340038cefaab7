"""Graphs for node classification: Zachary's karate club (Kipf & Welling 2017's 4 communities, one labelled member
each), Planetoid Cora/CiteSeer/PubMed (Yang et al. 2016 raw `ind.NAME.*` files, standard split), or nodes.csv + edges.csv."""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, to_undirected

from shinsou.errors import DataError

PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
PLANETOID_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
RESERVED = ("id", "label", "split")  # nodes.csv columns that are not features
SPLIT_NAMES = ("train", "val", "test", "")


@dataclass
class NodeGraph:
    """One graph: data.x (N, F), data.edge_index (2, E), data.edge_weight (E,) or None, data.y (N,) class index or
    -1 where unknown, data.train_mask / val_mask / test_mask (N,) bool."""

    data: Data
    node_ids: list[str]
    class_names: list[str]
    source: str
    directed: bool = False

    @property
    def num_nodes(self) -> int:
        return self.data.num_nodes


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "shinsou" / "planetoid"


def load_graph(source: str | None = None, directed: bool = False, train_fraction: float = 0.5,
               val_fraction: float = 0.2, seed: int = 0) -> NodeGraph:
    """'karate' (default), 'cora' / 'citeseer' / 'pubmed' (downloaded once when online), a folder of Planetoid
    raw files, or a folder (or its nodes.csv) with nodes.csv and edges.csv."""
    source = source or "karate"
    key = str(source).lower()
    if key == "karate":
        return karate_club()
    if key in PLANETOID and not Path(source).exists():
        return planetoid_download(PLANETOID[key])
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: no such file or folder (or name: karate, {', '.join(PLANETOID)})")
    folder = path.parent if path.is_file() else path
    if planetoid_prefix(folder) is not None:
        return planetoid_folder(folder)
    return load_csv_graph(folder, directed, train_fraction, val_fraction, seed)


def karate_club() -> NodeGraph:
    """34 members, 78 friendships; 4 communities (modularity-based, as in Kipf & Welling 2017, App. A), one
    labelled member per community (nodes 0, 4, 8, 24); features are the identity matrix (no node attributes)."""
    from torch_geometric.datasets import KarateClub

    data = KarateClub()[0]
    data.val_mask = torch.zeros_like(data.train_mask)
    data.test_mask = ~data.train_mask
    data.edge_weight = None
    names = [f"community {i}" for i in range(int(data.y.max()) + 1)]
    return NodeGraph(data, [str(i) for i in range(data.num_nodes)], names, "karate")


def planetoid_prefix(folder: Path) -> str | None:
    """The dataset name of a folder holding `ind.NAME.x` (directly or under raw/)."""
    for where in (folder, folder / "raw"):
        for name in PLANETOID:
            if (where / f"ind.{name}.x").exists():
                return name
    return None


def planetoid_folder(folder: Path) -> NodeGraph:
    """Read the raw Planetoid files of the user's own folder with torch_geometric's reader (nothing is written
    there). The raw files are Python pickles: read only files you downloaded yourself from a source you trust."""
    from torch_geometric.io import read_planetoid_data

    prefix = planetoid_prefix(folder)
    raw = folder if (folder / f"ind.{prefix}.x").exists() else folder / "raw"
    missing = [p for p in PLANETOID_PARTS if not (raw / f"ind.{prefix}.{p}").exists()]
    if missing:
        raise DataError(f"{raw}: Planetoid files incomplete, no ind.{prefix}.{missing[0]}")
    try:
        data = read_planetoid_data(str(raw), prefix)
    except Exception as e:  # a damaged pickle or text file: say which folder and why, in one line
        raise DataError(f"{raw}: cannot read the Planetoid files of {prefix!r} ({e.__class__.__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''})") from None
    return _planetoid_graph(data, f"{PLANETOID[prefix]} ({raw})")


def planetoid_download(name: str) -> NodeGraph:
    """torch_geometric's Planetoid loader: downloads the raw files into the shinsou cache once (online only)."""
    from torch_geometric.datasets import Planetoid

    root = cache_dir()
    try:
        dataset = Planetoid(str(root), name)
    except Exception as e:
        raise DataError(f"{name.lower()}: cannot download Planetoid {name} into {root} ({e.__class__.__name__}); "
                        f"offline, put the raw files ind.{name.lower()}.* in a folder and pass --data FOLDER") from None
    return _planetoid_graph(dataset[0], f"{name} (Planetoid, {root / name})")


def _planetoid_graph(data: Data, source: str) -> NodeGraph:
    data.edge_weight = None
    names = [f"class {i}" for i in range(int(data.y.max()) + 1)]
    return NodeGraph(data, [str(i) for i in range(data.num_nodes)], names, source)


# ---- nodes.csv + edges.csv -------------------------------------------------------------------------------------

def _read_rows(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[tuple[int, dict]]]:
    """(header, [(line, row dict)]) of a CSV; blank lines are ignored; the required columns must be there."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            rows = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise DataError(f"{path} line {reader.line_num}: {len(row)} fields, the header has {len(header)}")
                rows.append((reader.line_num, {h: cell.strip() for h, cell in zip(header, row)}))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as e:
        raise DataError(f"{path}: cannot be read as CSV ({e})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r} (header: {', '.join(header) or 'empty'})")
    return header, rows


def _number(text: str) -> float:
    try:
        return float(text) if text.strip() else math.nan
    except ValueError:
        return None  # type: ignore[return-value]


def class_order(labels: set[str]) -> list[str]:
    """Integers in numeric order, anything else sorted as text."""
    try:
        return sorted(labels, key=lambda s: (float(s), s))
    except ValueError:
        return sorted(labels)


def load_csv_graph(folder: Path, directed: bool = False, train_fraction: float = 0.5, val_fraction: float = 0.2,
                   seed: int = 0) -> NodeGraph:
    """nodes.csv: id, feature columns..., optional label, optional split (train/val/test); edges.csv: source,
    target, optional weight; optional labels.csv: id, label. No feature columns: one-hot node identity."""
    nodes_path, edges_path, labels_path = folder / "nodes.csv", folder / "edges.csv", folder / "labels.csv"
    for path in (nodes_path, edges_path):
        if not path.exists():
            raise DataError(f"{folder}: no {path.name} (a graph folder holds nodes.csv and edges.csv; "
                            f"or use karate, {', '.join(PLANETOID)} or a Planetoid folder)")
    header, rows = _read_rows(nodes_path, ("id",))
    if not rows:
        raise DataError(f"{nodes_path}: no nodes")
    feature_columns = [h for h in header if h not in RESERVED]

    index: dict[str, int] = {}
    first_line: dict[str, int] = {}
    features = np.zeros((len(rows), len(feature_columns)), dtype=np.float32)
    labels: dict[str, str] = {}
    splits: list[str] = []
    for i, (line, row) in enumerate(rows):
        node = row["id"]
        if not node:
            raise DataError(f"{nodes_path} line {line}: empty node id")
        if node in index:
            raise DataError(f"{nodes_path} line {line}: duplicate node id {node!r} (first on line {first_line[node]})")
        index[node], first_line[node] = i, line
        for j, column in enumerate(feature_columns):
            value = _number(row[column])
            if value is None:
                raise DataError(f"{nodes_path} line {line}: feature {column!r} of node {node!r} is not a number "
                                f"({row[column]!r})")
            if not math.isfinite(value):
                raise DataError(f"{nodes_path} line {line}: feature {column!r} of node {node!r} is NaN or infinite")
            features[i, j] = value
        if row.get("label"):
            labels[node] = row["label"]
        split = row.get("split", "").lower()
        if split not in SPLIT_NAMES:
            raise DataError(f"{nodes_path} line {line}: split {row['split']!r} of node {node!r} is not one of "
                            f"train, val, test (or empty)")
        splits.append(split)

    if labels_path.exists():
        if "label" in header:
            raise DataError(f"{folder}: labels in both nodes.csv (column 'label') and labels.csv; keep one")
        _, label_rows = _read_rows(labels_path, ("id", "label"))
        for line, row in label_rows:
            if row["id"] not in index:
                raise DataError(f"{labels_path} line {line}: label for node {row['id']!r}, which is not in {nodes_path.name}")
            if row["label"]:
                labels[row["id"]] = row["label"]
    if not labels:
        raise DataError(f"{folder}: no labelled nodes (add a 'label' column to nodes.csv, or a labels.csv with id,label)")

    edge_index, edge_weight = read_edges(edges_path, index, nodes_path.name)
    n = len(rows)
    if directed:
        edge_index, edge_weight = coalesce(edge_index, edge_weight, n, reduce="mean")
    else:
        edge_index, edge_weight = to_undirected(edge_index, edge_weight, n, reduce="mean")
    x = torch.from_numpy(features) if feature_columns else torch.eye(n)  # (N, F) or (N, N) one-hot identity

    class_names = class_order(set(labels.values()))
    class_index = {c: k for k, c in enumerate(class_names)}
    y = torch.full((n,), -1, dtype=torch.long)
    for node, label in labels.items():
        y[index[node]] = class_index[label]
    masks = split_masks(y, splits, train_fraction, val_fraction, seed, nodes_path)
    data = Data(x=x, edge_index=edge_index, edge_weight=edge_weight, y=y, **masks)
    return NodeGraph(data, list(index), class_names, str(folder), directed)


def read_edges(path: Path, index: dict[str, int], nodes_name: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(2, E) node indices and (E,) positive weights (None when edges.csv has no weight column)."""
    header, rows = _read_rows(path, ("source", "target"))
    if not rows:
        raise DataError(f"{path}: no edges (a graph needs at least one edge)")
    src, dst, weights = [], [], []
    for line, row in rows:
        for end in ("source", "target"):
            if row[end] not in index:
                raise DataError(f"{path} line {line}: {end} node {row[end]!r} is not in {nodes_name}")
        src.append(index[row["source"]])
        dst.append(index[row["target"]])
        if "weight" in header:
            w = _number(row["weight"])
            if w is None or not math.isfinite(w) or w <= 0:
                raise DataError(f"{path} line {line}: weight {row['weight']!r} must be a positive number")
            weights.append(w)
    edge_index = torch.tensor([src, dst], dtype=torch.long)  # (2, E)
    return edge_index, torch.tensor(weights, dtype=torch.float32) if weights else None


def split_masks(y: torch.Tensor, splits: list[str], train_fraction: float, val_fraction: float, seed: int,
                source) -> dict[str, torch.Tensor]:
    """Train/val/test masks over the labelled nodes: the `split` column where given, otherwise a split per class
    by fraction (at least one training node per class); unlabelled nodes are only predicted."""
    n = len(y)
    masks = {k: torch.zeros(n, dtype=torch.bool) for k in ("train_mask", "val_mask", "test_mask")}
    labelled = (y >= 0).numpy()
    if any(splits):
        for i, split in enumerate(splits):
            if split and labelled[i]:
                masks[f"{split}_mask"][i] = True
        if not masks["train_mask"].any():
            raise DataError(f"{source}: the split column marks no labelled node as train")
        return masks
    rng = np.random.default_rng(seed)
    for cls in np.unique(y.numpy()[labelled]):
        members = rng.permutation(np.flatnonzero(y.numpy() == cls))
        n_train = max(1, int(round(train_fraction * len(members))))
        n_val = min(len(members) - n_train, int(round(val_fraction * len(members))))
        masks["train_mask"][members[:n_train]] = True
        masks["val_mask"][members[n_train:n_train + n_val]] = True
        masks["test_mask"][members[n_train + n_val:]] = True
    return masks
