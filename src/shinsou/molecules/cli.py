"""`shinsou train molecules`: the command-line face of molecules/train.py (flags over a YAML config over defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from shinsou.console import console, print_json


def train_molecules_command(
    data: Optional[Path] = typer.Option(None, "--data", help="CSV or TSV with a SMILES column and a target column (default: B3DB_classification.tsv from the shared data folder)."),
    smiles_column: Optional[str] = typer.Option(None, "--smiles-column", help="Column of SMILES strings (default SMILES)."),
    target_column: Optional[str] = typer.Option(None, "--target-column", help="Column to predict (default 'BBB+/BBB-', else 'logBB', as B3DB names them)."),
    task: Optional[str] = typer.Option(None, "--task", help="auto (default: numbers with fractions or more than 10 distinct values are regression), classification or regression."),
    split: Optional[str] = typer.Option(None, "--split", help="random (stratified, default) or scaffold (Bemis-Murcko groups, rarest scaffolds tested); 70/10/20 train/validation/test."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the split, shuffling, initialisation and the forest (default 0)."),
    strict: Optional[bool] = typer.Option(None, "--strict/--no-strict", help="Stop at the first SMILES RDKit cannot parse (default: report its line, skip it, print the count)."),
    arch: Optional[str] = typer.Option(None, "--arch", help="gcn (default: 3 GCN layers, mean pooling) or gcn-jk (bond-type edge weights, jumping knowledge, mean+max pooling)."),
    hidden: Optional[int] = typer.Option(None, "--hidden", help="Units per GCN layer and in the head (default 128)."),
    layers: Optional[int] = typer.Option(None, "--layers", help="Number of GCN layers (default 3)."),
    fingerprint: Optional[bool] = typer.Option(None, "--fingerprint/--no-fingerprint", help="Concatenate the Morgan fingerprint (r=2, 2048 bits) to the learned graph embedding before the head (default off)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Epochs to train; the best validation epoch is kept (default 30)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Molecules per step (default 64)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate, cosine-annealed (default 0.001)."),
    baseline: Optional[bool] = typer.Option(None, "--baseline/--no-baseline", help="Fit the random forest on Morgan fingerprints on the same split (default on)."),
    trees: Optional[int] = typer.Option(None, "--trees", help="Trees in the random-forest baseline (default 500)."),
    descriptors: Optional[str] = typer.Option(None, "--descriptors", metavar="none|basic|rdkit", help="Concatenate per-molecule descriptors to the learned graph embedding before the head: basic = 13 RDKit descriptors (logP, TPSA, weight, H-bond donors/acceptors...), rdkit = RDKit's whole 2D list (~200, log-scaled, as chemprop's rdkit_2d); each clipped to the training molecules' 0.5-99.5 percentiles, then z-scored; default none."),
    fit_on: Optional[str] = typer.Option(None, "--fit-on", metavar="train|train+val", help="train (default): the GCN learns from the training molecules and keeps its best validation epoch. train+val: it learns from training and validation molecules for exactly --epochs (choose them from a default run first) and keeps the last epoch, as the forest, which is always fit on train + validation."),
    ensemble: Optional[int] = typer.Option(None, "--ensemble", help="Train N GCNs from seeds seed..seed+N-1 and average their probabilities (values), as chemprop's --ensemble_size; each member's own test score goes into metrics.json (default 1)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of config keys; flags override it."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default runs/molecules-TIMESTAMP)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue an interrupted run directory to its planned epochs."),
    as_json: bool = typer.Option(False, "--json", help="Print the test metrics (and the baseline's) as one JSON object."),
):
    """Graph classification/regression of molecules with a GCN, beside a random forest on Morgan fingerprints."""
    from shinsou.engine.config import resolve_config
    from shinsou.molecules.train import MoleculesConfig, train_molecules

    cfg = resolve_config(MoleculesConfig, config, data=str(data) if data else None, smiles_column=smiles_column,
                         target_column=target_column, task=task, split=split, seed=seed, strict=strict, arch=arch,
                         hidden=hidden, layers=layers, fingerprint=fingerprint, epochs=epochs, batch_size=batch_size,
                         lr=lr, baseline=baseline, trees=trees, descriptors=descriptors, fit_on=fit_on, ensemble=ensemble, out=str(out) if out else None)
    result = train_molecules(cfg, resume=resume)
    m = result.metrics
    if as_json:
        print_json({**m, "run_dir": str(result.run_dir), "report": str(result.report)})
        return
    keys = ("roc_auc", "accuracy") if m["task"] == "classification" else ("rmse", "r2")
    console.print(f"GCN ({m['split']} split, {m['n']} test molecules): "
                  + ", ".join(f"{k} [bold]{m[k]:.4f}[/bold]" for k in keys))
    if m.get("members"):
        console.print(f"{len(m['members'])} members alone: " + ", ".join(f"{s[keys[0]]:.4f}" for s in m["members"]))
    if m.get("baseline"):
        console.print("random forest on Morgan fingerprints: " + ", ".join(f"{k} {m['baseline'][k]:.4f}" for k in keys))
    console.print(f"report: {result.report}")
