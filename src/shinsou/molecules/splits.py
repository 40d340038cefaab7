"""Train/validation/test splits of a molecule set: random (stratified by class) and Bemis-Murcko scaffold
(Bemis & Murcko 1996, grouped as MoleculeNet does: no scaffold on two sides, the rarest scaffolds in test)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

SPLITS = ("random", "scaffold")
TEST_FRACTION, VAL_FRACTION = 0.2, 0.1  # 80/20 train+val/test, as the forest baseline was measured


@dataclass
class Split:
    train: np.ndarray  # indices into the molecule list
    val: np.ndarray
    test: np.ndarray


def murcko_scaffold(mol: Chem.Mol) -> str:
    """The Bemis-Murcko scaffold (ring systems and the linkers between them) as canonical SMILES;
    '' for a molecule without rings."""
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def random_split(n: int, seed: int, labels: np.ndarray | None = None, test_fraction: float = TEST_FRACTION,
                 val_fraction: float = VAL_FRACTION) -> Split:
    """Shuffled split; with `labels` (classification) each class is split in the same proportions."""
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    parts = {"train": [], "val": [], "test": []}
    for members in groups:
        members = rng.permutation(members)
        n_test, n_val = int(round(test_fraction * len(members))), int(round(val_fraction * len(members)))
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:])
    return Split(*(np.sort(np.concatenate(parts[k])).astype(np.int64) for k in ("train", "val", "test")))


def scaffold_split(scaffolds: list[str], seed: int, test_fraction: float = TEST_FRACTION,
                   val_fraction: float = VAL_FRACTION) -> Split:
    """Whole scaffold groups go to one side, largest groups first (MoleculeNet's scaffold split, Wu et al. 2018):
    training takes the big chemical series, validation the next, and the test set the rarest scaffolds, chemotypes
    that training never saw. Groups of equal size are taken in an order shuffled by `seed`."""
    n = len(scaffolds)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, scaffold in enumerate(scaffolds):
        groups[scaffold].append(i)
    n_test, n_val = int(round(test_fraction * n)), int(round(val_fraction * n))
    n_train = n - n_test - n_val
    sets = list(groups.values())
    tie = np.random.default_rng(seed).permutation(len(sets))
    order = sorted(range(len(sets)), key=lambda k: (-len(sets[k]), tie[k]))
    train, val, test = [], [], []
    for k in order:
        group = sets[k]
        if len(train) + len(group) <= n_train:
            train += group
        elif len(val) + len(group) <= n_val:
            val += group
        else:
            test += group
    return Split(*(np.sort(np.asarray(part, dtype=np.int64)) for part in (train, val, test)))


def make_split(kind: str, mols: list[Chem.Mol], seed: int, labels: np.ndarray | None = None) -> Split:
    if kind == "scaffold":
        return scaffold_split([murcko_scaffold(m) for m in mols], seed)
    return random_split(len(mols), seed, labels)
