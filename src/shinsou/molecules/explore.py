"""`shinsou explore molecules`: the SMILES table before training: rows, skipped rows, class balance per split or the
target's histogram, atoms per molecule, the same molecule (canonical SMILES) in train and test, and drawings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rdkit import Chem

from shinsou.engine.explore import balance_table, content_hashes, duplicates_across, duplicates_within, write_explore
from shinsou.engine.report import Section, figure_path, save_figure
from shinsou.molecules.config import Config
from shinsou.molecules.data import MoleculeSet, default_data, load_molecules
from shinsou.molecules.report import plt
from shinsou.molecules.splits import make_split

DRAWN = 24  # molecules drawn in the grid


def canonical(molecules: MoleculeSet) -> list[str]:
    """RDKit's canonical SMILES of each molecule: the same molecule written two ways gives the same string."""
    return [Chem.MolToSmiles(m) for m in molecules.mols]


def histogram(values: np.ndarray, path: Path, xlabel: str, title: str, integer: bool = False) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    bins = np.arange(values.min(), values.max() + 2) - 0.5 if integer and values.max() - values.min() < 80 else 40
    ax.hist(values, bins=bins, color="#4878a8")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("molecules")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def drawings(molecules: MoleculeSet, index: np.ndarray, path: Path) -> Path | None:
    """A grid of RDKit 2-D drawings with each molecule's file line and target; None where RDKit cannot draw."""
    try:
        from rdkit.Chem import Draw

        legends = [f"line {molecules.lines[i]}: " + (molecules.class_names[molecules.targets[i]]
                                                     if molecules.task == "classification" else f"{molecules.targets[i]:.2f}")
                   for i in index]
        image = Draw.MolsToGridImage([molecules.mols[i] for i in index], molsPerRow=6, subImgSize=(220, 180),
                                     legends=legends)
    except (ImportError, RuntimeError, ValueError):
        return None
    image.save(path)
    return path


def explore(cfg: Config, out: Path) -> dict:
    molecules = load_molecules(cfg.data or default_data(), cfg.smiles_column, cfg.target_column, cfg.task, strict=False)
    classification = molecules.task == "classification"
    split = make_split(cfg.split, molecules.mols, cfg.seed, molecules.targets if classification else None)
    hashes = content_hashes(canonical(molecules))
    pick = lambda idx: [hashes[i] for i in idx]  # noqa: E731
    atoms = np.asarray([m.GetNumAtoms() for m in molecules.mols])
    summary = {"source": molecules.source, "task": molecules.task, "target column": molecules.target_column,
               "molecules": len(molecules), "skipped rows": len(molecules.skipped),
               "unparseable SMILES": sum(s["reason"].startswith("RDKit") for s in molecules.skipped),
               "rows without a target": sum(not s["reason"].startswith("RDKit") for s in molecules.skipped),
               "split": cfg.split, **{f"{part} molecules": len(getattr(split, part)) for part in ("train", "val", "test")},
               "heavy atoms per molecule (median)": int(np.median(atoms)), "heavy atoms (max)": int(atoms.max()),
               "same molecule twice (canonical SMILES)": duplicates_within(hashes),
               "test molecules also in train": duplicates_across(pick(split.train), pick(split.test)),
               "test molecules also in train or validation": duplicates_across(pick(split.train) + pick(split.val),
                                                                               pick(split.test))}
    sections = []
    if classification:
        parts = {part: molecules.targets[getattr(split, part)] for part in ("train", "val", "test")}
        sections.append(Section(f"Classes per split ({cfg.split} split)",
                                tables=[balance_table(molecules.targets, molecules.class_names, parts)]))
    else:
        sections.append(Section(f"Target {molecules.target_column!r}", figures=[
            histogram(molecules.targets, figure_path(out, "target.png"), molecules.target_column,
                      f"{len(molecules)} molecules")]))
        summary.update({"target mean": round(float(molecules.targets.mean()), 3),
                        "target range": f"{molecules.targets.min():.3f} .. {molecules.targets.max():.3f}"})
    sections.append(Section("Heavy atoms per molecule", figures=[
        histogram(atoms, figure_path(out, "atoms.png"), "heavy atoms", "graph sizes (nodes per molecule)", integer=True)]))
    drawn = np.random.default_rng(cfg.seed).choice(len(molecules), min(DRAWN, len(molecules)), replace=False)
    grid = drawings(molecules, np.sort(drawn), figure_path(out, "molecules.png"))
    if grid is not None:
        sections.append(Section("Molecules (a random sample)", figures=[grid]))
    if molecules.skipped:
        rows = [["line", "SMILES", "why"]] + [[s["line"], s["smiles"], s["reason"]] for s in molecules.skipped[:200]]
        sections.append(Section(f"Skipped rows ({len(molecules.skipped)})", tables=[rows]))
    return write_explore(out, f"shinsou explore · molecules in {Path(molecules.source).name}", summary, sections)
