"""Reading molecule tables: a CSV/TSV with a SMILES column and a target column (B3DB's layout by default:
`SMILES`, `BBB+/BBB-` or `logBB`); rows RDKit cannot parse are reported by line and skipped, or fail under --strict."""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from torch_geometric.data import Data

from shinsou.errors import ConfigError, DataError
from shinsou.molecules.config import TASKS
from shinsou.molecules.featurize import (FINGERPRINT_BITS, descriptor_vector, mol_to_graph, morgan_fingerprint,
                                                parse_smiles)

DEFAULT_SMILES = "SMILES"
DEFAULT_TARGETS = ("BBB+/BBB-", "logBB")  # the first of these present is the default target column
MAX_CLASSES = 20


@dataclass
class MoleculeSet:
    smiles: list[str]
    mols: list[Chem.Mol]
    lines: np.ndarray  # (M,) line of each molecule in its file (the header is line 1)
    targets: np.ndarray | None  # (M,) int64 class indices or float32 values; None without a target column
    task: str  # "classification" or "regression"
    class_names: list[str] | None  # classification: index -> label; the last is the positive class when binary
    source: str
    target_column: str | None
    skipped: list[dict] = field(default_factory=list)  # {"line", "smiles", "reason"} for every dropped row

    def __len__(self) -> int:
        return len(self.mols)

    def subset(self, index: np.ndarray) -> "MoleculeSet":
        """The molecules at `index` (a split's), with their lines and targets; skipped rows stay with the whole set."""
        return MoleculeSet([self.smiles[i] for i in index], [self.mols[i] for i in index], self.lines[index],
                           None if self.targets is None else self.targets[index], self.task, self.class_names,
                           self.source, self.target_column)


def shared_b3db(name: str) -> Path | None:
    """B3DB in the project's shared data folder ($SHINSOU_SHARED_DATA, else shared/data beside the checkout)."""
    roots = [Path(os.environ["SHINSOU_SHARED_DATA"])] if os.environ.get("SHINSOU_SHARED_DATA") else []
    roots += [Path(__file__).resolve().parents[4] / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for root in roots:
        if (root / "molecules" / name).exists():
            return root / "molecules" / name
    return None


def default_data() -> str:
    """B3DB's classification table, the data `shinsou train molecules` uses without --data."""
    path = shared_b3db("B3DB_classification.tsv")
    if path is None:
        raise ConfigError("--data is needed (a CSV/TSV with a SMILES column); B3DB was not found under "
                          "$SHINSOU_SHARED_DATA or shared/data/molecules beside the checkout")
    return str(path)


@dataclass
class Table:
    """A CSV/TSV as text: the header, the records, and the file line where each record starts (a quoted field
    may hold a newline, as two of B3DB's compound names do, so records and lines differ)."""

    columns: list[str]
    rows: list[list[str]]
    lines: list[int]

    def column(self, name: str) -> list[str]:
        k = self.columns.index(name)
        return [row[k] for row in self.rows]


def read_table(path: str | os.PathLike) -> Table:
    """A CSV or TSV (by suffix, else sniffed) read as strings: nothing is turned into NaN behind our back."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a CSV/TSV file of SMILES")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        sep = "\t"
    elif suffix == ".csv":
        sep = ","
    else:
        try:
            sep = csv.Sniffer().sniff(text[:4096], delimiters=",\t;").delimiter
        except csv.Error:
            sep = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    header = next(reader, None)
    if not header:
        raise DataError(f"{path}: the file is empty")
    header = [h.strip() for h in header]
    rows, lines, start = [], [], reader.line_num + 1
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                if len(row) != len(header):
                    raise DataError(f"{path} line {start}: {len(row)} fields, the header has {len(header)}")
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{path} line {start}: cannot be read as {'TSV' if sep == chr(9) else 'CSV'} ({e})") from None
    return Table(header, rows, lines)


def default_target_column(table: Table, task: str) -> str | None:
    candidates = ("logBB",) if task == "regression" else DEFAULT_TARGETS
    return next((c for c in candidates if c in table.columns), None)


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def detect_task(values: list[str]) -> str:
    """Numbers with fractions or more than 10 distinct values -> regression; anything else -> classes."""
    numbers = [_as_float(v) for v in values]
    if values and all(x is not None for x in numbers):
        distinct = set(numbers)
        if len(distinct) > 10 or any(not float(x).is_integer() for x in distinct if math.isfinite(x)):
            return "regression"
    return "classification"


def order_classes(labels: set[str]) -> list[str]:
    """Class order for a binary target puts the positive class last (index 1, the one ROC-AUC scores):
    'BBB+' over 'BBB-', '1' over '0', 'true'/'yes'/'active' over the rest; otherwise sorted."""
    names = sorted(labels)
    if len(names) == 2:
        positive = [n for n in names if n.endswith("+") or n.lower() in ("1", "1.0", "true", "yes", "active", "positive")]
        if len(positive) == 1:
            names.remove(positive[0])
            names.append(positive[0])
    return names


def load_molecules(path: str | os.PathLike, smiles_column: str = DEFAULT_SMILES, target_column: str | None = None,
                   task: str = "auto", strict: bool = False, class_names: list[str] | None = None,
                   need_target: bool = True) -> MoleculeSet:
    """Parse every row's SMILES; rows without a target value or with a SMILES RDKit cannot read are listed in
    `skipped` (or, under `strict`, the first unreadable SMILES is an error). `class_names` fixes the classes
    (a trained run's), otherwise they come from the data; `need_target=False` reads the SMILES only."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    table = read_table(path)
    if smiles_column not in table.columns:
        raise DataError(f"{path}: no column {smiles_column!r} (columns: {', '.join(table.columns)}); "
                        f"choose one with --smiles-column")
    if not need_target:  # prediction: SMILES only, whatever other columns the table has
        target_column = None
    elif target_column is None:
        target_column = default_target_column(table, task)
        if target_column is None:
            raise DataError(f"{path}: no target column {' or '.join(repr(c) for c in DEFAULT_TARGETS)} "
                            f"(columns: {', '.join(table.columns)}); choose one with --target-column")
    elif target_column not in table.columns:
        raise DataError(f"{path}: no column {target_column!r} (columns: {', '.join(table.columns)}); "
                        f"choose one with --target-column")

    skipped: list[dict] = []
    smiles, mols, lines, raw_targets = [], [], [], []
    column = table.column(target_column) if target_column else [None] * len(table.rows)
    for line, text, target in zip(table.lines, table.column(smiles_column), column):
        if target is not None and not target.strip():
            skipped.append({"line": line, "smiles": text, "reason": f"no value in {target_column!r}"})
            continue
        mol = parse_smiles(text)
        if mol is None:
            if strict:
                raise DataError(f"{path} line {line}: RDKit cannot parse SMILES {text!r} (--strict stops here; "
                                f"without it such rows are skipped and counted)")
            skipped.append({"line": line, "smiles": text, "reason": "RDKit cannot parse the SMILES"})
            continue
        smiles.append(text)
        mols.append(mol)
        lines.append(line)
        raw_targets.append(target.strip() if target is not None else None)
    if not mols:
        raise DataError(f"{path}: no usable molecules ({len(table.rows)} rows, {len(skipped)} skipped)")

    targets, names = None, None
    if target_column is not None:
        if task == "auto":
            task = "classification" if class_names else detect_task(raw_targets)
        if task == "regression":
            targets = _numeric_targets(raw_targets, lines, path, target_column)
        else:
            names = class_names or order_classes(set(raw_targets))
            if len(names) > MAX_CLASSES:
                raise DataError(f"{path}: column {target_column!r} has {len(names)} distinct values, too many classes "
                                f"(for a numeric target use --task regression)")
            if len(names) < 2:
                raise DataError(f"{path}: column {target_column!r} holds one class only ({names[0]!r}); "
                                f"a classifier needs two or more")
            index = {n: i for i, n in enumerate(names)}
            unknown = [(v, line) for v, line in zip(raw_targets, lines) if v not in index]
            if unknown:
                raise DataError(f"{path} line {unknown[0][1]}: class {unknown[0][0]!r} is not one the model knows "
                                f"({', '.join(names)})")
            targets = np.asarray([index[v] for v in raw_targets], dtype=np.int64)
    elif task == "auto":
        task = "classification" if class_names else "regression"
    return MoleculeSet(smiles, mols, np.asarray(lines), targets, task, names, str(path), target_column, skipped)


def _numeric_targets(values: list[str], lines: list[int], path, column: str) -> np.ndarray:
    out = np.empty(len(values), dtype=np.float32)
    for i, (value, line) in enumerate(zip(values, lines)):
        number = _as_float(value)
        if number is None or not math.isfinite(number):
            raise DataError(f"{path} line {line}: target {value!r} in column {column!r} is not a finite number")
        out[i] = number
    return out


def describe_skipped(molecules: MoleculeSet, limit: int = 10) -> list[str]:
    """One line per skipped row (the first `limit`), then the count: nothing is dropped silently."""
    lines = [f"{molecules.source} line {s['line']}: {s['reason']} ({s['smiles']!r}), skipped"
             for s in molecules.skipped[:limit]]
    if len(molecules.skipped) > limit:
        lines.append(f"... and {len(molecules.skipped) - limit} more")
    if molecules.skipped:
        lines.append(f"skipped {len(molecules.skipped)} row(s) of {molecules.source} in all; "
                     f"{len(molecules)} molecules kept")
    return lines


def fingerprints(molecules: MoleculeSet) -> np.ndarray:
    """(M, 2048) Morgan bits, radius 2."""
    return np.stack([morgan_fingerprint(m) for m in molecules.mols])


def descriptor_set(value) -> str:
    """The descriptor set a config names; runs saved before the sets existed stored a bool (True = "basic")."""
    if isinstance(value, bool) or value is None:
        return "basic" if value else "none"
    return str(value)


def graph_features(molecules: MoleculeSet, fingerprint: bool, descriptors: str | bool,
                   fps: np.ndarray | None = None) -> np.ndarray | None:
    """(M, D) per-molecule features for the model's head: Morgan bits (2048) and/or a descriptor set
    ("basic": 13 RDKit descriptors, "rdkit": RDKit's whole 2D list)."""
    descriptors = descriptor_set(descriptors)
    parts = []
    if fingerprint:
        parts.append((fps if fps is not None else fingerprints(molecules)).astype(np.float32))
    if descriptors != "none":
        parts.append(np.stack([descriptor_vector(m, descriptors) for m in molecules.mols]))
    return np.concatenate(parts, 1) if parts else None


CLIP_PERCENTILES = (0.5, 99.5)  # descriptor bounds: the training molecules' 0.5th and 99.5th percentiles


def graph_feature_stats(features: np.ndarray, fingerprint: bool) -> dict[str, torch.Tensor]:
    """How the model clips and standardises the graph features, from the training molecules: each descriptor is
    clipped to its CLIP_PERCENTILES, then z-scored with the clipped values' mean and std; fingerprint bits stay
    0/1 (z-scoring a bit set in 1 molecule of 5,000 would turn it into a value near 70). (D,) tensors each."""
    low, high = np.percentile(features, CLIP_PERCENTILES, axis=0)
    clipped = np.clip(features, low, high)
    mean, std = clipped.mean(0), clipped.std(0)
    std = np.where(std > 1e-6, std, 1.0)
    if fingerprint:
        mean[:FINGERPRINT_BITS], std[:FINGERPRINT_BITS] = 0.0, 1.0
        low[:FINGERPRINT_BITS], high[:FINGERPRINT_BITS] = 0.0, 1.0
    as_tensor = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32))  # noqa: E731
    return {"mean": as_tensor(mean), "std": as_tensor(std), "low": as_tensor(low), "high": as_tensor(high)}


def to_graphs(molecules: MoleculeSet, features: np.ndarray | None = None) -> list[Data]:
    """One PyG graph per molecule with y (class index or value) and, when given, its graph_features (1, D)."""
    graphs = []
    for i, mol in enumerate(molecules.mols):
        graph = mol_to_graph(mol)
        if molecules.targets is not None:
            dtype = torch.long if molecules.task == "classification" else torch.float32
            graph.y = torch.tensor([molecules.targets[i]], dtype=dtype)  # (1,)
        if features is not None:
            graph.graph_features = torch.from_numpy(features[i]).unsqueeze(0)  # (1, D)
        graphs.append(graph)
    return graphs
