"""Training the molecule GCNs (graph classification or regression) on a SMILES table, and the random-forest
baseline on Morgan fingerprints on the same split in the same run; Adam, cosine schedule, one stage per member."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from shinsou.engine.evaluation import evaluate
from shinsou.errors import ConfigError, DataError
from shinsou.molecules.baseline import FOREST_FILE, Forest, fit_forest
from shinsou.molecules.batches import GraphBatches
from shinsou.molecules.config import Config, apply_fast
from shinsou.molecules.data import (MoleculeSet, default_data, describe_skipped, fingerprints, graph_feature_stats,
                                    graph_features, load_molecules, to_graphs)
from shinsou.molecules.metrics import ClassScores, ValueScores
from shinsou.molecules.model import MODEL, load_gcn, member_stage, members, model_options, predict_outputs, scores
from shinsou.molecules.splits import Split, make_split
from shinsou.models import build_model


def check(cfg: Config) -> None:
    """The checks before any data is read; also settles what the saved config.yaml says ran: --fast's settings
    and, without --data, the shared B3DB file."""
    apply_fast(cfg)
    for name in ("hidden", "layers", "trees", "ensemble"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if cfg.devices != 1:
        raise ConfigError(f"devices: the molecules pipeline trains in one process, got {cfg.devices}")
    if cfg.data is None:
        cfg.data = default_data()


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


def train(cfg: Config, run) -> dict:
    """Fit the GCN (or each ensemble member) and the forest on the same split; score both on the same test molecules."""
    torch.manual_seed(cfg.seed)
    molecules = load_molecules(cfg.data, cfg.smiles_column, cfg.target_column, cfg.task, cfg.strict)
    for line in describe_skipped(molecules):
        run.info(line)
    split = make_split(cfg.split, molecules.mols, cfg.seed, molecules.targets if molecules.task == "classification" else None)
    check_split(molecules, split, cfg.split)
    fps = fingerprints(molecules) if (cfg.baseline or cfg.fingerprint) else None
    extra = graph_features(molecules, cfg.fingerprint, cfg.descriptors, fps)
    graphs = to_graphs(molecules, extra)
    num_outputs = len(molecules.class_names) if molecules.task == "classification" else 1
    options = model_options(cfg, num_outputs)
    run.record(target_column=molecules.target_column, task=molecules.task, model_options=options,
               class_names=molecules.class_names,
               split_sizes={"train": len(split.train), "val": len(split.val), "test": len(split.test)})
    run.plan(cfg.ensemble * cfg.epochs, main_metric="roc_auc" if molecules.task == "classification" else "rmse")
    run.info(f"{molecules.task} of {molecules.target_column!r} on {len(molecules)} molecules ({molecules.source}), "
             f"{cfg.split} split {len(split.train)}/{len(split.val)}/{len(split.test)}; run directory {run.dir}")

    member_options = {k: v for k, v in options.items() if k != "ensemble"}
    stats = graph_feature_stats(extra[split.train], cfg.fingerprint) if extra is not None else None
    pick = lambda idx: [graphs[i] for i in idx]  # noqa: E731
    val_batches = GraphBatches(pick(split.val), 256)
    train_and_val = np.concatenate([split.train, split.val])  # what the forest is always fit on
    refit = cfg.fit_on == "train+val"
    fit_index = train_and_val if refit else split.train
    if refit:
        run.info(f"training on train + validation ({len(fit_index)} molecules) for {cfg.epochs} epochs; "
                 f"the last epoch is kept (no early stopping)")
    loss_fn, new_metric, monitor, mode = loss_and_metric(molecules.task)
    started = time.perf_counter()
    histories = []
    for k in range(cfg.ensemble):  # members train one after another; a resumed run skips the finished ones
        seed = cfg.seed + k
        if cfg.ensemble > 1:
            run.info(f"ensemble member {k + 1} of {cfg.ensemble} (seed {seed})")
        torch.manual_seed(seed)
        model = build_model(MODEL, **member_options)
        if stats is not None:
            model.set_graph_feature_stats(**stats)
        train_batches = GraphBatches(pick(fit_index), cfg.batch_size, shuffle=True, seed=seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
        # the engine seeds each epoch (dropout) from cfg.seed: each member gets its own through a copy of the run
        member_run = dataclasses.replace(run, cfg=dataclasses.replace(cfg, seed=seed))
        # train+val: validation molecules are trained on, nothing is left to choose an epoch with; the last is kept
        histories.append(member_run.fit(model, optimizer, train_batches, None if refit else val_batches,
                                        loss_fn=loss_fn, new_metric=new_metric, stage=member_stage(k, cfg.ensemble),
                                        scheduler=scheduler, scheduler_per_step=False, forward=forward,
                                        monitor=monitor, mode=mode, keep="last" if refit else "best"))
    gcn_seconds = time.perf_counter() - started
    if not run.is_main:
        return {}

    final = load_gcn(run.dir, options)
    test = molecules.subset(split.test)
    test_graphs = pick(split.test)
    member_scores = []
    if cfg.ensemble > 1:  # each member alone on the same test molecules, beside the ensemble's figures
        member_scores = [scores(predict_outputs(member, test_graphs), test.targets, molecules.task)
                         for member in members(final)]
    gcn_out = predict_outputs(final, test_graphs)
    metrics = {"task": molecules.task, "split": cfg.split, "seed": cfg.seed, "source": molecules.source,
               "target_column": molecules.target_column, **scores(gcn_out, test.targets, molecules.task),
               "fit_on": cfg.fit_on, "train_seconds": round(gcn_seconds, 1), "skipped_rows": len(molecules.skipped)}
    if not refit:  # validation molecules held out from training: their scores mean something
        metrics["val"] = evaluate(final, val_batches, loss_fn, new_metric, forward)
    if member_scores:
        metrics["members"] = member_scores
    forest_out = None
    if cfg.baseline:
        forest = baseline_forest(cfg, run, molecules, fps, train_and_val)
        forest_out = forest.outputs(fps[split.test], num_outputs)
        metrics["baseline"] = {"model": "random forest, Morgan r=2 2048 bits", "trees": forest.n_estimators,
                               **scores(forest_out, test.targets, molecules.task), "train_seconds": forest.fit_seconds}
    write_predictions(run.path("test_predictions.csv"), test, gcn_out, forest_out)

    from shinsou.molecules.report import report_sections

    run.report(f"shinsou · molecule GCN on {Path(str(cfg.data)).name} ({cfg.split} split)",
               report_sections(run.dir, histories[0], metrics, molecules, split, gcn_out, forest_out))
    return metrics


def baseline_forest(cfg: Config, run, molecules: MoleculeSet, fps: np.ndarray, fit_index: np.ndarray) -> Forest:
    """The forest fit on train + validation (it has no early stopping) and saved as RUN_DIR/forest.json; a resumed
    run that saved it already reads it back instead of fitting it again."""
    path = run.path(FOREST_FILE)
    if run.resuming and path.exists():
        return Forest.load(path)
    run.info(f"random forest on Morgan fingerprints (radius 2, 2048 bits), {len(fit_index)} training molecules ...")
    started = time.perf_counter()
    fitted = fit_forest(fps[fit_index], molecules.targets[fit_index], molecules.task, cfg.seed, cfg.trees)
    forest = Forest.from_sklearn(fitted, molecules.task, round(time.perf_counter() - started, 1))
    forest.save(path)
    return forest


def write_predictions(path: Path, test: MoleculeSet, gcn_out, forest_out) -> Path:
    import pandas as pd

    table = {"line": test.lines, "smiles": test.smiles}
    if test.task == "classification":
        names = test.class_names
        table["target"] = [names[t] for t in test.targets]
        for model, out in (("gcn", gcn_out), ("forest", forest_out)):
            if out is None:
                continue
            if len(names) == 2:  # the positive class's probability, which ROC-AUC ranks
                table[f"{model}_p({names[1]})"] = out[:, 1]
            else:
                table[f"{model}_class"] = [names[k] for k in out.argmax(1)]
                table[f"{model}_p"] = out.max(1)
    else:
        table["target"] = test.targets
        table["gcn"] = gcn_out
        if forest_out is not None:
            table["forest"] = forest_out
    tmp = path.with_name(path.name + ".tmp")
    pd.DataFrame(table).to_csv(tmp, index=False)
    tmp.replace(path)
    return path
