"""Molecules: SMILES featurisation checked atom by atom (benzene, pyridine, acetic acid), the Bemis-Murcko scaffold
split (no scaffold on two sides), the CSV/TSV loader with unparseable rows, and a light end-to-end run on B3DB."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from shinsou.errors import DataError
from shinsou.molecules.data import load_molecules, order_classes
from shinsou.molecules.featurize import (AROMATIC_INDEX, ATOM_FEATURES, BOND_FEATURES, BOND_TYPES, ELEMENTS,
                                                RING_INDEX, parse_smiles, smiles_to_graph)
from shinsou.molecules.splits import murcko_scaffold, random_split, scaffold_split


@pytest.fixture(autouse=True)
def fresh_run_dir():
    """prepare_run_dir remembers its run directory in SHINSOU_RUN_DIR (for DDP workers); each in-process run here is new."""
    os.environ.pop("SHINSOU_RUN_DIR", None)
    yield
    os.environ.pop("SHINSOU_RUN_DIR", None)


def element(x: torch.Tensor) -> list[str]:
    return [ELEMENTS[i] for i in x[:, :len(ELEMENTS)].argmax(1).tolist()]


def test_benzene_graph():
    g = smiles_to_graph("c1ccccc1")
    assert g.x.shape == (6, ATOM_FEATURES) and g.edge_index.shape == (2, 12)  # 6 atoms, 6 bonds both ways
    assert g.edge_attr.shape == (12, BOND_FEATURES)
    assert element(g.x) == ["C"] * 6
    assert g.x[:, AROMATIC_INDEX].tolist() == [1.0] * 6 and g.x[:, RING_INDEX].tolist() == [1.0] * 6
    aromatic = BOND_TYPES.index(__import__("rdkit.Chem", fromlist=["BondType"]).BondType.AROMATIC)
    assert g.edge_attr[:, aromatic].tolist() == [1.0] * 12
    # every atom: degree 2 (slot 2 of the degree block), one hydrogen
    degree = g.x[:, len(ELEMENTS):len(ELEMENTS) + 7]
    assert degree.argmax(1).tolist() == [2] * 6


def test_pyridine_and_acetic_acid():
    g = smiles_to_graph("c1ccncc1")
    assert element(g.x).count("N") == 1 and g.x[:, AROMATIC_INDEX].sum() == 6
    acid = smiles_to_graph("CC(=O)O")
    assert acid.x.shape[0] == 4 and acid.edge_index.shape[1] == 6
    assert element(acid.x) == ["C", "C", "O", "O"] and acid.x[:, AROMATIC_INDEX].sum() == 0
    # one double bond (C=O), two single bonds, each stored in both directions
    assert acid.edge_attr[:, :4].sum(0).tolist() == [4.0, 2.0, 0.0, 0.0]
    # each edge appears with its reverse
    pairs = set(map(tuple, acid.edge_index.T.tolist()))
    assert all((b, a) in pairs for a, b in pairs)


@pytest.mark.parametrize("smiles", ["CC(=O)O", "c1ccncc1", "CCN(CC)CC", "[NH4+]"])
def test_atom_contributions_sum_to_rdkit_descriptors(smiles):
    """Crippen logP / MR and TPSA shares per atom (hydrogens folded into their atoms) add up to RDKit's values."""
    from rdkit.Chem import Crippen, rdMolDescriptors

    mol = parse_smiles(smiles)
    x = smiles_to_graph(smiles).x
    assert x[:, -3].sum().item() == pytest.approx(Crippen.MolLogP(mol), abs=1e-4)
    assert x[:, -2].sum().item() * 10 == pytest.approx(Crippen.MolMR(mol), abs=1e-3)
    assert x[:, -1].sum().item() * 20 == pytest.approx(rdMolDescriptors.CalcTPSA(mol), abs=1e-3)


def test_rdkit_descriptor_set_is_log_scaled_rdkit():
    """--descriptors rdkit: RDKit's whole 2D list, each value v as sign(v) log(1 + |v|), in _descList order."""
    from rdkit.Chem import Descriptors

    from shinsou.molecules.featurize import RDKIT_DESCRIPTOR_NAMES, rdkit_descriptors

    mol = parse_smiles("CC(=O)Oc1ccccc1C(=O)O")  # aspirin: logP 1.31, weight 180.16
    values = rdkit_descriptors(mol)
    assert values.shape == (len(Descriptors._descList),) and len(values) > 150 and np.isfinite(values).all()
    for name, raw in (("MolWt", Descriptors.MolWt(mol)), ("MolLogP", Descriptors.MolLogP(mol)),
                      ("NumHDonors", 1.0), ("MaxPartialCharge", Descriptors.MaxPartialCharge(mol))):
        assert values[RDKIT_DESCRIPTOR_NAMES.index(name)] == pytest.approx(np.sign(raw) * np.log1p(abs(raw)), rel=1e-5)


def test_unknown_descriptor_set(cli, tmp_path):
    data = tmp_path / "m.csv"
    data.write_text("SMILES,BBB+/BBB-\nCCO,BBB+\n")
    code, _, err = cli("train", "molecules", "--data", data, "--descriptors", "all", "--out", tmp_path / "run")
    assert code == 2 and err.strip() == "error: unknown --descriptors 'all' (known: none, basic, rdkit)"


def test_unparseable_and_empty_smiles():
    assert parse_smiles("C1CC") is None  # unclosed ring
    assert parse_smiles("") is None
    assert parse_smiles("not a molecule") is None
    assert parse_smiles("[Na+].[Cl-]") is not None


def test_scaffold_split_keeps_each_scaffold_on_one_side():
    series = ["c1ccccc1C", "c1ccccc1CC", "c1ccccc1CCC", "c1ccccc1O", "c1ccccc1N",  # benzene
              "C1CCNCC1C", "C1CCNCC1CC", "C1CCNCC1O",  # piperidine
              "c1ccncc1C", "c1ccncc1CC",  # pyridine
              "C1CCCCC1", "c1ccc2ccccc2c1", "C1CC1N", "CCO", "CCN", "CCCC", "c1ccoc1", "c1ccsc1", "C1CCOC1", "C1CCCC1"]
    mols = [parse_smiles(s) for s in series]
    scaffolds = [murcko_scaffold(m) for m in mols]
    assert scaffolds[0] == scaffolds[4] == "c1ccccc1" and scaffolds[13] == ""
    for seed in range(5):
        split = scaffold_split(scaffolds, seed)
        sides = [{scaffolds[i] for i in part} for part in (split.train, split.val, split.test)]
        assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
        assert sorted(np.concatenate([split.train, split.val, split.test]).tolist()) == list(range(len(series)))
        assert {0, 1, 2, 3, 4} <= set(split.train.tolist())  # the biggest series trains


def test_random_split_is_stratified_and_seeded():
    labels = np.array([0] * 50 + [1] * 150)
    a, b = random_split(200, 0, labels), random_split(200, 0, labels)
    assert np.array_equal(a.test, b.test)
    assert (labels[a.test] == 0).sum() == 10 and (labels[a.test] == 1).sum() == 30
    assert len(np.intersect1d(a.train, a.test)) == 0


def test_class_order_puts_the_positive_class_last():
    assert order_classes({"BBB+", "BBB-"}) == ["BBB-", "BBB+"]
    assert order_classes({"1", "0"}) == ["0", "1"]
    assert order_classes({"b", "c", "a"}) == ["a", "b", "c"]


TABLE = "name,SMILES,activity,logS\nbenzene,c1ccccc1,inactive,-1.6\nbad,C1CC,active,-2.0\npyridine,c1ccncc1,active,0.4\nnone,CCO,,0.1\n"


def test_csv_loader_skips_and_reports(tmp_path):
    path = tmp_path / "mols.csv"
    path.write_text(TABLE)
    m = load_molecules(path, target_column="activity")
    assert m.smiles == ["c1ccccc1", "c1ccncc1"] and m.lines.tolist() == [2, 4]
    assert m.task == "classification" and m.class_names == ["inactive", "active"]  # 'active' is the positive class
    assert m.targets.tolist() == [0, 1]
    assert [(s["line"], s["reason"]) for s in m.skipped] == [(3, "RDKit cannot parse the SMILES"),
                                                             (5, "no value in 'activity'")]
    values = load_molecules(path, target_column="logS")  # numbers with fractions: regression
    assert values.task == "regression" and values.targets.dtype == np.float32 and len(values) == 3
    tsv = tmp_path / "mols.tsv"
    tsv.write_text(TABLE.replace(",", "\t"))
    assert load_molecules(tsv, target_column="activity").smiles == m.smiles
    with pytest.raises(DataError, match=r"no column 'smiles' \(columns: name, SMILES, activity, logS\)"):
        load_molecules(path, smiles_column="smiles", target_column="activity")


def test_strict_fails_on_the_first_unparseable_smiles(cli, tmp_path):
    path = tmp_path / "mols.csv"
    path.write_text(TABLE)
    code, _, err = cli("train", "molecules", "--data", path, "--target-column", "activity", "--strict",
                       "--out", tmp_path / "run")
    assert code == 2
    assert err.strip() == (f"error: {path} line 3: RDKit cannot parse SMILES 'C1CC' (--strict stops here; "
                           f"without it such rows are skipped and counted)")
    code, _, err = cli("train", "molecules", "--data", path, "--split", "cluster", "--out", tmp_path / "run")
    assert code == 2 and err.strip() == "error: unknown split 'cluster' (known: random, scaffold)"


def b3db_subset(shared_data: Path, tmp_path: Path, n: int = 400) -> tuple[Path, int]:
    """n B3DB records chosen by a fixed seed, plus one unparseable SMILES at the end; returns (file, its line)."""
    with open(shared_data / "molecules" / "B3DB_classification.tsv", newline="", encoding="utf-8") as f:
        header, *records = list(csv.reader(f, delimiter="\t"))
    keep = sorted(np.random.default_rng(0).choice(len(records), n, replace=False))
    broken = ["9999", "broken", "", "C1CC", "", "", "BBB+", "", "", "", "", ""]
    path = tmp_path / "b3db_small.tsv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows([header] + [records[i] for i in keep] + [broken])
    return path, len(path.read_text().splitlines())


def test_b3db_subset_end_to_end(cli, shared_data, tmp_path):
    """400 B3DB molecules, scaffold split, a few epochs: the GCN learns something and the forest runs beside it."""
    data, broken_line = b3db_subset(shared_data, tmp_path)
    run = tmp_path / "run"
    code, out, err = cli("train", "molecules", "--data", data, "--split", "scaffold", "--epochs", "6", "--hidden", "32",
                         "--trees", "50", "--out", run, "--json")
    assert code == 0, err
    assert f"{data} line {broken_line}: RDKit cannot parse the SMILES ('C1CC'), skipped" in err
    assert "skipped 1 row(s)" in err
    metrics = json.loads(out)
    assert metrics["n"] == 80 and metrics["split"] == "scaffold"
    assert metrics["roc_auc"] > 0.6 and metrics["baseline"]["roc_auc"] > 0.6
    code, out, _ = cli("evaluate", run, "--json")
    evaluated = json.loads(out)
    assert code == 0 and evaluated["roc_auc"] == pytest.approx(metrics["roc_auc"])
    assert evaluated["baseline"]["roc_auc"] == pytest.approx(metrics["baseline"]["roc_auc"])
    assert set(evaluated) >= {"roc_auc", "accuracy", "baseline"}
    code, out, _ = cli("predict", run, "CCN(CC)CC", "--json")
    predicted = json.loads(out)
    assert code == 0 and predicted[0]["class"] in ("BBB+", "BBB-") and 0.5 <= predicted[0]["probability"] <= 1
    code, _, err = cli("predict", run, "no_such_file.csv")
    assert code == 2 and err.strip() == "error: no_such_file.csv: no such file, and RDKit cannot parse it as SMILES either"


def test_fit_on_train_and_validation_keeps_the_last_epoch(cli, shared_data, tmp_path):
    """--fit-on train+val: the GCN trains on train + validation molecules (as the forest is fit) for exactly
    --epochs, with no validation to choose an epoch by, and keeps the last one."""
    data, _ = b3db_subset(shared_data, tmp_path)
    run = tmp_path / "run"
    code, out, err = cli("train", "molecules", "--data", data, "--split", "scaffold", "--epochs", "3", "--hidden", "32",
                         "--no-baseline", "--fit-on", "train+val", "--out", run, "--json")
    assert code == 0, err
    assert "training on train + validation (320 molecules) for 3 epochs" in err
    assert "val roc_auc" not in err and "epoch 3/3" in err
    metrics = json.loads(out)
    assert metrics["fit_on"] == "train+val" and "val" not in metrics and metrics["n"] == 80
    assert (run / "best.safetensors").read_bytes() == (run / "last.safetensors").read_bytes()
    code, out, _ = cli("evaluate", run, "--json")
    assert code == 0 and json.loads(out)["roc_auc"] == pytest.approx(metrics["roc_auc"])
    code, _, err = cli("train", "molecules", "--data", data, "--fit-on", "all", "--out", tmp_path / "bad")
    assert code == 2 and err.strip().endswith("error: unknown --fit-on 'all' (known: train, train+val)")


def test_logbb_regression_ensemble(cli, shared_data, tmp_path):
    """logBB values, RDKit descriptors, an ensemble of two GCNs: each member trains in its own folder, the
    ensemble's test predictions are the members' mean, evaluate reproduces the RMSE and --resume retrains nothing."""
    with open(shared_data / "molecules" / "B3DB_regression.tsv", newline="", encoding="utf-8") as f:
        records = list(csv.reader(f, delimiter="\t"))[:301]
    data = tmp_path / "logbb.tsv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(records)
    code, out, err = cli("train", "molecules", "--data", data, "--epochs", "4", "--hidden", "32", "--no-baseline",
                         "--descriptors", "rdkit", "--ensemble", "2", "--out", tmp_path / "run", "--json")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["task"] == "regression" and metrics["n"] == 60
    assert "ensemble member 2 of 2 (seed 1)" in err
    assert len(metrics["members"]) == 2
    assert all((tmp_path / "run" / "members" / k / "best.safetensors").exists() for k in ("0", "1"))
    report = (tmp_path / "run" / "report.html").read_text()
    assert "GCN ensemble of 2" in report and "member 2 alone" in report
    from shinsou.engine.runs import load_run_model
    from shinsou.molecules.pipeline import graphs_for, run_molecules
    from shinsou.molecules.splits import make_split
    from shinsou.molecules.train import predict_outputs

    model, config = load_run_model(tmp_path / "run")
    molecules = run_molecules(config, None)
    graphs = graphs_for(config, molecules)
    test = [graphs[i] for i in make_split("random", molecules.mols, 0).test]
    outs = [predict_outputs(member, test) for member in model.members]
    assert np.allclose(predict_outputs(model, test), (outs[0] + outs[1]) / 2, atol=1e-6)
    assert metrics["members"][0]["rmse"] != pytest.approx(metrics["members"][1]["rmse"])
    code, out, err = cli("train", "molecules", "--resume", tmp_path / "run", "--json")
    assert code == 0 and json.loads(out)["rmse"] == pytest.approx(metrics["rmse"], rel=1e-6) and "epoch 1/" not in err
    code, out, _ = cli("evaluate", tmp_path / "run", "--json")  # the run rebuilds its descriptor features
    assert code == 0 and json.loads(out)["rmse"] == pytest.approx(metrics["rmse"], rel=1e-5)
    assert np.isfinite(metrics["rmse"]) and metrics["rmse"] < 2.0 and "r2" in metrics
