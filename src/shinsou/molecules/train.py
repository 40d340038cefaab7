"""Training the molecule GCN (graph classification or regression) on a SMILES table, and the random-forest
baseline on Morgan fingerprints on the same split in the same run; Adam, cosine schedule, best epoch by validation."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from shinsou.engine.checkpoint import BEST, LAST, TRAIN_STATE, copy_atomic, load_weights, save_weights
from shinsou.engine.config import load_run_config, resumed_config, save_run_config
from shinsou.engine.runs import TrainResult, prepare_run_dir, write_json_atomic
from shinsou.engine.trainer import evaluate, fit, make_fabric
from shinsou.errors import ConfigError, DataError
from shinsou.graphs.gcn import GRAPH_CONFIGS
from shinsou.molecules.baseline import fit_forest, forest_outputs
from shinsou.molecules.batches import GraphBatches
from shinsou.molecules.data import (TASKS, MoleculeSet, describe_skipped, descriptor_set, fingerprints,
                                           graph_feature_stats, graph_features, load_molecules, to_graphs)
from shinsou.molecules.featurize import ATOM_FEATURES, BOND_FEATURES, DESCRIPTOR_SETS, FINGERPRINT_BITS
from shinsou.molecules.metrics import ClassScores, ValueScores, classification_scores, regression_scores
from shinsou.molecules.splits import SPLITS, Split, make_split
from shinsou.models import build_model

MODEL = "gcn-graph"
FIT_ON = ("train", "train+val")


@dataclass
class MoleculesConfig:
    pipeline: str = "molecules"
    data: str | None = None  # CSV/TSV of SMILES; None = B3DB classification from the shared data folder
    smiles_column: str = "SMILES"
    target_column: str | None = None  # None: 'BBB+/BBB-', else 'logBB' (B3DB's columns)
    task: str = "auto"  # auto: numbers with fractions (or > 10 values) are regression, anything else classes
    split: str = "random"
    seed: int = 0
    strict: bool = False
    arch: str = "gcn"  # a key of gcn.GRAPH_CONFIGS
    hidden: int | None = None  # width of every GCN layer (None: the arch's)
    layers: int | None = None  # number of GCN layers (None: the arch's)
    fingerprint: bool = False  # concatenate the Morgan bits to the pooled graph embedding before the head
    descriptors: str = "none"  # likewise: "basic" (13 RDKit descriptors: logP, TPSA, weight...) or "rdkit" (all ~200)
    ensemble: int = 1  # GCNs trained from seeds seed, seed+1, ...; their probabilities (values) are averaged
    # train: the best validation epoch is kept; train+val: train on both for exactly `epochs` and keep the last
    # epoch (no early stopping), as the forest is fit; choose `epochs` from a run with fit_on train first
    fit_on: str = "train"
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    baseline: bool = True
    trees: int = 500  # trees of the random-forest baseline
    out: str | None = None


def default_data() -> str:
    from shinsou.molecules.pipeline import shared_b3db

    path = shared_b3db("B3DB_classification.tsv")
    if path is None:
        raise ConfigError("--data is needed (a CSV/TSV with a SMILES column); B3DB was not found under "
                          "$SHINSOU_SHARED_DATA or ../shared/data/molecules")
    return str(path)


def check_config(cfg: MoleculesConfig) -> None:
    if cfg.split not in SPLITS:
        raise ConfigError(f"unknown split {cfg.split!r} (known: {', '.join(SPLITS)})")
    if cfg.task not in TASKS:
        raise ConfigError(f"unknown task {cfg.task!r} (known: {', '.join(TASKS)})")
    if descriptor_set(cfg.descriptors) not in DESCRIPTOR_SETS:
        raise ConfigError(f"unknown --descriptors {cfg.descriptors!r} (known: {', '.join(DESCRIPTOR_SETS)})")
    if cfg.arch not in GRAPH_CONFIGS:
        raise ConfigError(f"unknown arch {cfg.arch!r} (known: {', '.join(GRAPH_CONFIGS)})")
    if cfg.fit_on not in FIT_ON:
        raise ConfigError(f"unknown --fit-on {cfg.fit_on!r} (known: {', '.join(FIT_ON)})")
    for name in ("epochs", "batch_size", "hidden", "layers", "trees", "ensemble"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if not cfg.lr > 0:
        raise ConfigError(f"--lr must be positive, got {cfg.lr}")


def model_options(cfg: MoleculesConfig, num_outputs: int) -> dict:
    """The builder's keyword options, saved in config.yaml so that the run rebuilds its model."""
    arch = GRAPH_CONFIGS[cfg.arch]
    width = cfg.hidden or arch["hidden"][0]
    layers = cfg.layers or len(arch["hidden"])
    graph_feature_dim = FINGERPRINT_BITS * cfg.fingerprint + DESCRIPTOR_SETS[descriptor_set(cfg.descriptors)]
    options = {"in_channels": ATOM_FEATURES, "num_outputs": num_outputs, "config": cfg.arch,
               "hidden": [width] * layers, "head": [width],
               "edge_dim": BOND_FEATURES if arch["edge_dim"] else 0, "graph_feature_dim": graph_feature_dim}
    if graph_feature_dim:
        options["graph_feature_clip"] = True
    if cfg.ensemble > 1:
        options["ensemble"] = cfg.ensemble
    return options


def member_dir(run_dir: Path, k: int, ensemble: int) -> Path:
    """Where ensemble member k trains (its checkpoints and train state); a single GCN trains in the run directory."""
    return run_dir if ensemble == 1 else run_dir / "members" / str(k)


def loss_and_metric(task: str):
    if task == "classification":
        return F.cross_entropy, ClassScores, "roc_auc", "max"
    return (lambda out, y: F.mse_loss(out.reshape(-1), y)), ValueScores, "rmse", "min"


def forward(model, batch):
    return model(batch), batch.y  # (B, K) logits or (B, 1) values, (B,) targets


def check_split(molecules: MoleculeSet, split: Split, kind: str) -> None:
    for name in ("train", "val", "test"):
        if len(getattr(split, name)) == 0:
            raise DataError(f"{molecules.source}: the {kind} split leaves no molecules for {name} "
                            f"({len(molecules)} molecules); more data is needed")
    if molecules.task == "classification":
        missing = sorted(set(range(len(molecules.class_names))) - set(molecules.targets[split.train].tolist()))
        if missing:
            raise DataError(f"{molecules.source}: no training molecule of class {molecules.class_names[missing[0]]!r} "
                            f"after the {kind} split")


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


def train_molecules(cfg: MoleculesConfig, resume: str | Path | None = None, log=None) -> TrainResult:
    """Train (or resume) the molecule GCN, fit the forest baseline on the same split, write metrics and report."""
    log = log or (lambda line: print(line, file=sys.stderr))
    if resume is not None:
        run_dir = Path(resume)
        cfg = resumed_config(MoleculesConfig, run_dir)
    if cfg.data is None:
        cfg.data = default_data()
    check_config(cfg)
    torch.manual_seed(cfg.seed)

    molecules = load_molecules(cfg.data, cfg.smiles_column, cfg.target_column, cfg.task, cfg.strict)
    for line in describe_skipped(molecules):
        log(line)
    cfg.target_column, cfg.task = molecules.target_column, molecules.task
    split = make_split(cfg.split, molecules.mols, cfg.seed, molecules.targets if molecules.task == "classification" else None)
    check_split(molecules, split, cfg.split)
    fps = fingerprints(molecules) if (cfg.baseline or cfg.fingerprint) else None
    extra = graph_features(molecules, cfg.fingerprint, cfg.descriptors, fps)
    graphs = to_graphs(molecules, extra)
    num_outputs = len(molecules.class_names) if molecules.task == "classification" else 1
    # a resumed run rebuilds the model it was started with (runs from before clipping existed have none)
    options = load_run_config(run_dir)["model_options"] if resume is not None else model_options(cfg, num_outputs)

    if resume is None:
        run_dir = prepare_run_dir(cfg.out, "molecules")
        save_run_config(run_dir, cfg, model=MODEL, model_options=options, class_names=molecules.class_names,
                        split_sizes={"train": len(split.train), "val": len(split.val), "test": len(split.test)})
    log(f"{molecules.task} of {molecules.target_column!r} on {len(molecules)} molecules ({molecules.source}), "
        f"{cfg.split} split {len(split.train)}/{len(split.val)}/{len(split.test)}; run directory {run_dir}")

    fabric = make_fabric(1)
    member_options = {k: v for k, v in options.items() if k != "ensemble"}
    stats = graph_feature_stats(extra[split.train], cfg.fingerprint) if extra is not None else None
    pick = lambda idx: [graphs[i] for i in idx]  # noqa: E731
    val_batches = GraphBatches(pick(split.val), 256)
    train_and_val = np.concatenate([split.train, split.val])  # what the forest is always fit on
    refit = cfg.fit_on == "train+val"
    fit_index = train_and_val if refit else split.train
    if refit:
        log(f"training on train + validation ({len(fit_index)} molecules) for {cfg.epochs} epochs; "
            f"the last epoch is kept (no early stopping)")
    loss_fn, new_metric, monitor, mode = loss_and_metric(molecules.task)
    started = time.perf_counter()
    histories = []
    for k in range(cfg.ensemble):  # members train one after another; a resumed run skips the finished ones
        seed = cfg.seed + k
        directory = member_dir(run_dir, k, cfg.ensemble)
        directory.mkdir(parents=True, exist_ok=True)
        if cfg.ensemble > 1:
            log(f"ensemble member {k + 1} of {cfg.ensemble} (seed {seed})")
        torch.manual_seed(seed)
        model = build_model(MODEL, **member_options)
        if stats is not None:
            model.set_graph_feature_stats(**stats)
        train_batches = GraphBatches(pick(fit_index), cfg.batch_size, shuffle=True, seed=seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
        histories.append(fit(fabric, model, optimizer, train_batches, None if refit else val_batches,
                             loss_fn=loss_fn, new_metric=new_metric, epochs=cfg.epochs, run_dir=directory,
                             scheduler=scheduler, scheduler_per_step=False, forward=forward, monitor=monitor,
                             mode=mode, seed=seed, resume=(directory / TRAIN_STATE).exists(), log=log))
        if refit:  # validation molecules were trained on: nothing to choose an epoch with, the last one is kept
            copy_atomic(directory / LAST, directory / BEST)
    gcn_seconds = time.perf_counter() - started
    history = histories[0]

    final = build_model(MODEL, **options)
    test_graphs = pick(split.test)
    test_targets = molecules.targets[split.test]
    member_scores = []
    if cfg.ensemble > 1:  # the ensemble's best.safetensors holds every member's best weights
        for k, member in enumerate(final.members):
            load_weights(member, member_dir(run_dir, k, cfg.ensemble) / BEST)
            member_scores.append(scores(predict_outputs(member, test_graphs), test_targets, molecules.task))
        save_weights(final, run_dir / BEST)
    load_weights(final, run_dir / BEST)
    gcn_out = predict_outputs(final, test_graphs)
    metrics = {"task": molecules.task, "split": cfg.split, "seed": cfg.seed, "source": molecules.source,
               "target_column": molecules.target_column, **scores(gcn_out, test_targets, molecules.task),
               "fit_on": cfg.fit_on, "train_seconds": round(gcn_seconds, 1), "skipped_rows": len(molecules.skipped)}
    if not refit:  # validation molecules held out from training: their scores mean something
        metrics["val"] = evaluate(final, val_batches, loss_fn, new_metric, forward)
    if member_scores:  # each member alone on the same test molecules, beside the ensemble's figures above
        metrics["members"] = member_scores
    forest_out = None
    if cfg.baseline:
        log(f"random forest on Morgan fingerprints (radius 2, 2048 bits), {len(train_and_val)} "
            f"training molecules ...")
        started = time.perf_counter()  # the forest has no early stopping: it is fit on train + val
        forest = fit_forest(fps[train_and_val], molecules.targets[train_and_val], molecules.task, cfg.seed, cfg.trees)
        forest_out = forest_outputs(forest, fps[split.test], molecules.task, num_outputs)
        metrics["baseline"] = {"model": "random forest, Morgan r=2 2048 bits", "trees": forest.n_estimators,
                               **scores(forest_out, test_targets, molecules.task),
                               "train_seconds": round(time.perf_counter() - started, 1)}
    write_json_atomic(run_dir / "metrics.json", metrics)
    write_predictions(run_dir / "test_predictions.csv", molecules, split.test, gcn_out, forest_out)

    from shinsou.molecules.report import write_molecules_report

    report = write_molecules_report(run_dir, load_run_config(run_dir), history, metrics, molecules, split,
                                    gcn_out, forest_out)
    return TrainResult(run_dir, metrics, report)


def write_predictions(path: Path, molecules: MoleculeSet, index: np.ndarray, gcn_out, forest_out) -> Path:
    import pandas as pd

    table = {"line": molecules.lines[index], "smiles": [molecules.smiles[i] for i in index]}
    if molecules.task == "classification":
        names = molecules.class_names
        table["target"] = [names[t] for t in molecules.targets[index]]
        for model, out in (("gcn", gcn_out), ("forest", forest_out)):
            if out is None:
                continue
            if len(names) == 2:  # the positive class's probability, which ROC-AUC ranks
                table[f"{model}_p({names[1]})"] = out[:, 1]
            else:
                table[f"{model}_class"] = [names[k] for k in out.argmax(1)]
                table[f"{model}_p"] = out.max(1)
    else:
        table["target"] = molecules.targets[index]
        table["gcn"] = gcn_out
        if forest_out is not None:
            table["forest"] = forest_out
    tmp = path.with_name(path.name + ".tmp")
    pd.DataFrame(table).to_csv(tmp, index=False)
    tmp.replace(path)
    return path
