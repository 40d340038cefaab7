"""A trained molecule run loaded once: its GCN (or ensemble) and its random forest (RUN_DIR/forest.json, never
refit). Inputs are SMILES strings, .smi/.smiles/.txt files (SMILES [name] per line) or CSV/TSV files of SMILES."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from shinsou.engine.config import load_run_config
from shinsou.engine.predictor import as_list
from shinsou.engine.records import class_record, value_record
from shinsou.errors import DataError
from shinsou.molecules.baseline import DESCRIPTION, FOREST_FILE, Forest
from shinsou.molecules.data import MoleculeSet, fingerprints, load_molecules
from shinsou.molecules.featurize import parse_smiles
from shinsou.molecules.model import graphs_for, load_gcn, predict_outputs, scores
from shinsou.molecules.splits import make_split

SMILES_SUFFIXES = (".smi", ".smiles", ".txt")


def skipped_warning(source: Any, skipped: list[tuple[Any, str, str]]) -> str:
    """One line for the inputs of `source` that gave no molecule: the count and the first few."""
    shown = "; ".join(f"line {line} {smiles!r}: {why}" for line, smiles, why in skipped[:3])
    more = f"; ... and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    return f"{len(skipped)} row(s) of {source} skipped ({shown}{more})"


def read_inputs(inputs: Sequence[Any], smiles_column: str) -> list[tuple[str, str, Any, str | None]]:
    """[(input name, SMILES, RDKit molecule, warning)] from SMILES strings and files; rows RDKit cannot parse are
    left out and named in a warning on the first molecule of their file (a file with none at all is an error)."""
    items = []
    for item in inputs:
        path = Path(str(item))
        found, skipped = [], []
        if path.is_file() and path.suffix.lower() in SMILES_SUFFIXES:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError:
                raise DataError(f"{path}: not a UTF-8 text file") from None
            for number, line in enumerate(lines, 1):
                parts = line.split()
                if not parts:
                    continue
                mol = parse_smiles(parts[0])
                if mol is None:
                    skipped.append((number, parts[0], "RDKit cannot parse the SMILES"))
                    continue
                found.append((f"{path}:{number}" + (f" {' '.join(parts[1:])}" if len(parts) > 1 else ""), parts[0], mol))
        elif path.is_file():
            table = load_molecules(path, smiles_column, need_target=False)
            skipped = [(s["line"], s["smiles"], s["reason"]) for s in table.skipped]
            found = [(f"{path}:{line}", smiles, mol) for line, smiles, mol in zip(table.lines, table.smiles, table.mols)]
        else:
            mol = parse_smiles(str(item))
            if mol is None:
                raise DataError(f"{item}: no such file, and RDKit cannot parse it as SMILES either")
            found = [(str(item), str(item), mol)]
        if not found:
            raise DataError(f"{path}: no molecule RDKit can parse ({len(skipped)} rows)")
        warning = skipped_warning(path, skipped) if skipped else None
        items += [(name, smiles, mol, warning if i == 0 else None) for i, (name, smiles, mol) in enumerate(found)]
    return items


class MoleculePredictor:
    """The run's GCN (`model`) and forest (`forest`, None with --no-baseline), loaded once."""

    def __init__(self, run_dir: Path, config: dict):
        self.run_dir, self.config = Path(run_dir), config
        self.task = config["task"]
        self.class_names = config.get("class_names")
        self.model = load_gcn(run_dir, config["model_options"])
        forest_path = self.run_dir / FOREST_FILE
        self.forest = Forest.load(forest_path) if config.get("baseline", True) and forest_path.exists() else None

    def outputs_of(self, molecules: MoleculeSet) -> np.ndarray:
        return predict_outputs(self.model, graphs_for(self.config, molecules))

    def predict(self, inputs: Sequence[Any], top: int = 3) -> list[dict]:
        """Classification: class, probability and the ranking of the classes; regression: the predicted value of
        the run's target column. Each record also names its SMILES."""
        items = read_inputs(as_list(inputs), self.config.get("smiles_column", "SMILES"))
        molecules = MoleculeSet([s for _, s, _, _ in items], [m for _, _, m, _ in items], np.arange(len(items)), None,
                                self.task, self.class_names, "inputs", None)
        outputs = self.outputs_of(molecules)
        records = []
        for (name, smiles, _, warning), out in zip(items, outputs):
            extra = {"smiles": smiles, **({"warning": warning} if warning else {})}
            if self.task == "classification":
                records.append(class_record(out, self.class_names, top, input=name, **extra))
            else:
                records.append(value_record(out, input=name, target=self.config.get("target_column"), **extra))
        return records

    def run_molecules(self, data: str | None) -> MoleculeSet:
        c = self.config
        return load_molecules(data or c["data"], c.get("smiles_column", "SMILES"), c.get("target_column"),
                              c.get("task", "auto"), c.get("strict", False), class_names=self.class_names)

    def evaluate(self, data: str | None = None) -> dict:
        """The GCN and the forest on the same molecules: the run's own test split, or every molecule of `data`
        (labelled like the training data: the same target column and classes)."""
        molecules = self.run_molecules(data)
        if data is None:
            split = make_split(self.config["split"], molecules.mols, self.config["seed"],
                               molecules.targets if self.task == "classification" else None)
            test = molecules.subset(split.test)
            source = f"{molecules.source} ({self.config['split']} split, test)"
        else:
            test, source = molecules, molecules.source
        result = {"task": self.task, "source": source, "split": self.config["split"] if data is None else None,
                  **scores(self.outputs_of(test), test.targets, self.task), "skipped_rows": len(molecules.skipped)}
        if self.forest is not None:
            num_outputs = len(self.class_names) if self.task == "classification" else 1
            result["baseline"] = {"model": DESCRIPTION, "trees": self.forest.n_estimators,
                                  **scores(self.forest.outputs(fingerprints(test), num_outputs), test.targets, self.task)}
        if self.task == "classification":
            result["class_names"] = self.class_names
        return result

    def example_input(self) -> str:
        return "CC(=O)Oc1ccccc1C(=O)O"  # aspirin


def load(run_dir: str | os.PathLike) -> MoleculePredictor:
    return MoleculePredictor(Path(run_dir), load_run_config(run_dir))
