"""The molecule pipeline's entry points for `shinsou evaluate` and `shinsou predict` (training: train.py):
a run directory rebuilds its GCN; evaluation re-creates the run's split, prediction takes SMILES files or strings."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from shinsou.engine.runs import load_run_model
from shinsou.errors import DataError
from shinsou.molecules.baseline import fit_forest, forest_outputs
from shinsou.molecules.data import (MoleculeSet, describe_skipped, fingerprints, graph_features,
                                           load_molecules, to_graphs)
from shinsou.molecules.featurize import parse_smiles
from shinsou.molecules.splits import make_split
from shinsou.molecules.train import predict_outputs, scores

SMILES_SUFFIXES = (".smi", ".smiles", ".txt")


def shared_b3db(name: str) -> Path | None:
    """B3DB in the project's shared data folder ($SHINSOU_SHARED_DATA, else ../shared/data beside the checkout)."""
    roots = [Path(os.environ["SHINSOU_SHARED_DATA"])] if os.environ.get("SHINSOU_SHARED_DATA") else []
    roots += [Path(__file__).resolve().parents[5] / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for root in roots:
        if (root / "molecules" / name).exists():
            return root / "molecules" / name
    return None


def run_molecules(config: dict, data: str | None, need_target: bool = True) -> MoleculeSet:
    """`data` (or the run's own file) read with the run's columns, task and classes."""
    molecules = load_molecules(data or config["data"], config.get("smiles_column", "SMILES"),
                               config.get("target_column"), config.get("task", "auto"), config.get("strict", False),
                               class_names=config.get("class_names"), need_target=need_target)
    for line in describe_skipped(molecules):
        print(line, file=sys.stderr)
    return molecules


def graphs_for(config: dict, molecules: MoleculeSet):
    """The molecules as the run's model takes them (with the Morgan bits / descriptors it was trained with)."""
    return to_graphs(molecules, graph_features(molecules, config.get("fingerprint", False),
                                               config.get("descriptors", False)))


def evaluate_run(run_dir: str | Path, data: str | None = None) -> dict:
    """The GCN on the run's own test split (baseline: the forest's score saved by the run), or on every molecule
    of `data` (baseline: a forest refit on the run's training molecules, scored on the same molecules)."""
    model, config = load_run_model(run_dir)
    task = config["task"]
    if data is None:
        molecules = run_molecules(config, None)
        split = make_split(config["split"], molecules.mols, config["seed"],
                           molecules.targets if task == "classification" else None)
        index = split.test
        saved = Path(run_dir) / "metrics.json"
        baseline = json.loads(saved.read_text()).get("baseline") if saved.exists() else None
        source = f"{molecules.source} ({config['split']} split, test)"
    else:
        molecules = run_molecules(config, data)
        index = np.arange(len(molecules))
        baseline = refit_baseline(config, molecules) if config.get("baseline", True) else None
        source = molecules.source
    graphs = graphs_for(config, molecules)
    outputs = predict_outputs(model, [graphs[i] for i in index])
    result = {"task": task, "source": source, "split": config["split"] if data is None else None,
              **scores(outputs, molecules.targets[index], task)}
    if baseline is not None:
        result["baseline"] = baseline
    if task == "classification":
        result["class_names"] = molecules.class_names
    return result


def refit_baseline(config: dict, molecules: MoleculeSet) -> dict | None:
    """The run's forest is not stored (it would be a pickle): refit it, seeded, on the run's train + validation."""
    try:
        original = run_molecules(config, None)
    except DataError as e:
        print(f"baseline skipped: the run's training data cannot be read ({e})", file=sys.stderr)
        return None
    task = config["task"]
    split = make_split(config["split"], original.mols, config["seed"],
                       original.targets if task == "classification" else None)
    fit_idx = np.concatenate([split.train, split.val])
    forest = fit_forest(fingerprints(original)[fit_idx], original.targets[fit_idx], task, config["seed"],
                        config.get("trees", 500))
    k = len(config.get("class_names") or [0, 0])
    out = forest_outputs(forest, fingerprints(molecules), task, k)
    return {"model": "random forest, Morgan r=2 2048 bits", "trees": forest.n_estimators,
            **scores(out, molecules.targets, task)}


def read_inputs(files: list[str], smiles_column: str) -> tuple[list[str], MoleculeSet | None, list]:
    """Names and molecules from CSV/TSV files (the run's SMILES column), .smi files (SMILES [name] per line),
    or SMILES strings given directly."""
    names, mols, smiles = [], [], []
    for item in files:
        path = Path(item)
        if path.is_file() and path.suffix.lower() in SMILES_SUFFIXES:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                parts = line.split()
                if not parts:
                    continue
                mol = parse_smiles(parts[0])
                if mol is None:
                    print(f"{path} line {number}: RDKit cannot parse SMILES {parts[0]!r}, skipped", file=sys.stderr)
                    continue
                names.append(f"{path}:{number}" + (f" {' '.join(parts[1:])}" if len(parts) > 1 else ""))
                mols.append(mol)
                smiles.append(parts[0])
        elif path.is_file():
            table = load_molecules(path, smiles_column, need_target=False)
            for line in describe_skipped(table):
                print(line, file=sys.stderr)
            names += [f"{path}:{line}" for line in table.lines]
            mols += table.mols
            smiles += table.smiles
        else:
            mol = parse_smiles(item)
            if mol is None:
                raise DataError(f"{item}: no such file, and RDKit cannot parse it as SMILES either")
            names.append(item)
            mols.append(mol)
            smiles.append(item)
    if not mols:
        raise DataError("no molecules to predict")
    return names, MoleculeSet(smiles, mols, np.arange(len(mols)), None, "", None, "inputs", None), smiles


def predict_run(run_dir: str | Path, files: list[str], out: str | None = None) -> list[dict]:
    """One result per molecule: class, probability and the ranking (classification) or the predicted value."""
    model, config = load_run_model(run_dir)
    names, molecules, smiles = read_inputs(files, config.get("smiles_column", "SMILES"))
    outputs = predict_outputs(model, graphs_for(config, molecules))
    results = []
    if config["task"] == "classification":
        class_names = config["class_names"]
        for name, s, p in zip(names, smiles, outputs):
            order = np.argsort(-p)
            results.append({"input": name, "smiles": s, "class": class_names[order[0]], "index": int(order[0]),
                            "probability": float(p[order[0]]),
                            "top": [{"class": class_names[k], "probability": float(p[k])} for k in order]})
    else:
        target = config.get("target_column") or "value"
        for name, s, value in zip(names, smiles, outputs):
            # the shared predict table prints `class` and `probability`; a regression has a value instead
            results.append({"input": name, "smiles": s, "value": float(value), "class": f"{target} {value:.3f}",
                            "probability": float("nan")})
    return results
