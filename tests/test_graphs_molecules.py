"""Molecules: SMILES featurisation checked atom by atom (benzene, pyridine, acetic acid), the Bemis-Murcko scaffold
split (no scaffold on two sides), the CSV/TSV loader with unparseable rows, the forest saved as JSON and reloaded
exactly, the recipe defaults and --fast, and light end-to-end runs on B3DB through the CLI and the Predictor."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import shinsou
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
    assert code == 2 and err.strip() == "error: unknown descriptors 'all' (known: none, basic, rdkit)"
    code, _, err = cli("train", "molecules", "--data", data, "--arch", "gcn-jk", "--out", tmp_path / "run")
    assert code == 2 and "No such option: --arch" in err  # the architecture is --model, as in every pipeline
    assert not (tmp_path / "run").exists()


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
    assert not (tmp_path / "run").exists()


def test_defaults_are_the_recipe_and_fast_is_the_quick_setting():
    """No flags: five GCNs with RDKit descriptors on train + validation for 15 epochs (docs/graphs.md);
    --fast: one GCN without descriptors, 30 epochs, best validation epoch; values given beside --fast stay."""
    from shinsou.api import make_config
    from shinsou.molecules.config import apply_fast

    recipe = make_config("molecules")
    assert (recipe.descriptors, recipe.ensemble, recipe.epochs, recipe.fit_on) == ("rdkit", 5, 15, "train+val")
    assert recipe.model == "gcn" and recipe.baseline and recipe.trees == 500
    fast = apply_fast(make_config("molecules", fast=True))
    assert (fast.descriptors, fast.ensemble, fast.epochs, fast.fit_on) == ("none", 1, 30, "train")
    mixed = apply_fast(make_config("molecules", fast=True, epochs=6, descriptors="basic"))
    assert (mixed.descriptors, mixed.ensemble, mixed.epochs, mixed.fit_on) == ("basic", 1, 6, "train")
    assert apply_fast(make_config("molecules", ensemble=3)).ensemble == 3  # without --fast nothing changes


def test_config_names_match_the_code_they_stand_for():
    """config.py names the choices without importing RDKit or torch_geometric (the CLI imports it for --help)."""
    from shinsou.graphs.gcn import GRAPH_CONFIGS
    from shinsou.molecules import config, data, featurize, splits

    assert config.GRAPH_MODELS == tuple(GRAPH_CONFIGS)
    assert config.DESCRIPTOR_SETS == tuple(featurize.DESCRIPTOR_SETS)
    assert config.SPLITS == splits.SPLITS and data.TASKS == config.TASKS


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


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_forest_reloaded_from_json_gives_exactly_the_fitted_probabilities(shared_data, tmp_path, task):
    """The forest is saved as JSON of each tree's arrays (no pickle); predicting from the reloaded arrays gives
    scikit-learn's probabilities (values) bit for bit, on molecules it never saw."""
    from shinsou.molecules.baseline import Forest, fit_forest
    from shinsou.molecules.data import fingerprints

    data, _ = b3db_subset(shared_data, tmp_path, n=300)
    molecules = load_molecules(data)
    fps = fingerprints(molecules)
    targets = molecules.targets if task == "classification" else fps[:, :64].sum(1) + molecules.targets * 3.0
    fitted = fit_forest(fps[:200], targets[:200], task, seed=0, trees=30)
    path = Forest.from_sklearn(fitted, task, fit_seconds=1.0).save(tmp_path / "forest.json")
    assert json.loads(path.read_text())["trees"][0].keys() == {"children_left", "children_right", "feature",
                                                               "threshold", "leaf_value"}
    reloaded = Forest.load(path)
    expected = fitted.predict_proba(fps[200:]) if task == "classification" else fitted.predict(fps[200:])
    outputs = reloaded.outputs(fps[200:], 2)
    assert outputs.shape == expected.shape and np.array_equal(outputs, expected)
    assert reloaded.n_estimators == 30 and reloaded.fit_seconds == 1.0
    (tmp_path / "bad.json").write_text('{"trees": []}')
    with pytest.raises(DataError, match="not a shinsou forest"):
        Forest.load(tmp_path / "bad.json")


def test_b3db_subset_end_to_end(cli, shared_data, tmp_path):
    """400 B3DB molecules, scaffold split, --fast with a few epochs: the GCN learns something, the forest runs
    beside it and is saved; evaluate reproduces both from the run directory; predict takes SMILES and files."""
    data, broken_line = b3db_subset(shared_data, tmp_path)
    run = tmp_path / "run"
    code, out, err = cli("train", "molecules", "--data", data, "--split", "scaffold", "--fast", "--epochs", "6",
                         "--hidden", "32", "--trees", "50", "--out", run, "--json")
    assert code == 0, err
    assert f"{data} line {broken_line}: RDKit cannot parse the SMILES ('C1CC'), skipped" in err
    assert "skipped 1 row(s)" in err and "ensemble member" not in err
    metrics = json.loads(out)["metrics"]
    assert metrics["n"] == 80 and metrics["split"] == "scaffold" and metrics["fit_on"] == "train"
    assert metrics["roc_auc"] > 0.6 and metrics["baseline"]["roc_auc"] > 0.6 and metrics["baseline"]["trees"] == 50
    saved = (run / "config.yaml").read_text()  # what ran: --fast's settings, the given epochs
    assert "descriptors: none" in saved and "ensemble: 1" in saved and "epochs: 6" in saved and "fit_on: train\n" in saved
    assert (run / "forest.json").exists() and not list(run.glob("*.pkl"))
    code, out, _ = cli("evaluate", run, "--json")
    evaluated = json.loads(out)
    assert code == 0 and evaluated["roc_auc"] == pytest.approx(metrics["roc_auc"])
    assert evaluated["baseline"]["roc_auc"] == metrics["baseline"]["roc_auc"]  # the saved forest, not a refit
    assert evaluated["n"] == 80 and evaluated["skipped_rows"] == 1
    code, out, _ = cli("predict", run, "CCN(CC)CC", "--json")
    predicted = json.loads(out)
    assert code == 0 and predicted[0]["class"] in ("BBB+", "BBB-") and 0.5 <= predicted[0]["probability"] <= 1
    code, _, err = cli("predict", run, "no_such_file.csv")
    assert code == 2 and err.strip() == "error: no_such_file.csv: no such file, and RDKit cannot parse it as SMILES either"

    smi = tmp_path / "in.smi"
    smi.write_text("CCO ethanol\nC1CC\n\nc1ccccc1O phenol\n")
    predictor = shinsou.load(run)
    records = predictor.predict([smi, "CCN(CC)CC", data])
    assert [r["input"] for r in records[:3]] == [f"{smi}:1 ethanol", f"{smi}:4 phenol", "CCN(CC)CC"]
    assert records[0]["warning"] == f"1 row(s) of {smi} skipped (line 2 'C1CC': RDKit cannot parse the SMILES)"
    assert len(records) == 3 + 400 and records[3]["input"] == f"{data}:2"
    assert records[2]["probability"] == pytest.approx(predicted[0]["probability"], abs=1e-6)
    assert "skipped" in records[3]["warning"] and all(r["smiles"] for r in records)
    assert predictor.predict(predictor.example_input())[0]["class"] in ("BBB+", "BBB-")
    assert loaded_modules(run) == []  # the Predictor needs no training code, matplotlib or Lightning
    every = predictor.evaluate(str(data))  # every molecule of a file, both models on the same molecules
    assert every["n"] == 400 and every["baseline"]["n"] == 400

    status = json.loads((run / "run.json").read_text())  # an interrupted run resumes: nothing is trained again
    (run / "run.json").write_text(json.dumps({**status, "status": "interrupted"}))
    (run / "metrics.json").unlink()
    os.environ.pop("SHINSOU_RUN_DIR", None)
    code, out, err = cli("train", "molecules", "--resume", run, "--json")
    assert code == 0, err
    assert "epoch 1/" not in err and "random forest" not in err  # the forest is read back from forest.json
    assert json.loads(out)["metrics"]["roc_auc"] == pytest.approx(metrics["roc_auc"])


def loaded_modules(run: Path) -> list[str]:
    """Training-only modules that loading the run imported, in a fresh interpreter (a Predictor must need none)."""
    code = (f"import sys, shinsou; shinsou.load({str(run)!r}); print([m for m in ('matplotlib', 'lightning_fabric', "
            f"'shinsou.engine.trainer', 'shinsou.molecules.train', 'sklearn.ensemble') if m in sys.modules])")
    return json.loads(subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                                     check=True).stdout.replace("'", '"'))


def test_fit_on_train_and_validation_keeps_the_last_epoch(cli, shared_data, tmp_path):
    """--fit-on train+val: the GCN trains on train + validation molecules (as the forest is fit) for exactly
    --epochs, with no validation to choose an epoch by, and keeps the last one."""
    data, _ = b3db_subset(shared_data, tmp_path)
    run = tmp_path / "run"
    code, out, err = cli("train", "molecules", "--data", data, "--split", "scaffold", "--epochs", "3", "--hidden", "32",
                         "--no-baseline", "--ensemble", "1", "--descriptors", "none", "--fit-on", "train+val",
                         "--out", run, "--json")
    assert code == 0, err
    assert "training on train + validation (320 molecules) for 3 epochs" in err
    assert "val roc_auc" not in err and "epoch 3/3" in err
    metrics = json.loads(out)["metrics"]
    assert metrics["fit_on"] == "train+val" and "val" not in metrics and metrics["n"] == 80
    assert "baseline" not in metrics and not (run / "forest.json").exists()
    assert (run / "best.safetensors").read_bytes() == (run / "last.safetensors").read_bytes()
    code, out, _ = cli("evaluate", run, "--json")
    assert code == 0 and json.loads(out)["roc_auc"] == pytest.approx(metrics["roc_auc"])
    assert "baseline" not in json.loads(out)
    code, _, err = cli("train", "molecules", "--data", data, "--fit-on", "all", "--out", tmp_path / "bad")
    assert code == 2 and err.strip().endswith("error: unknown fit-on 'all' (known: train, train+val)")


def test_logbb_regression_ensemble(cli, shared_data, tmp_path):
    """logBB values, RDKit descriptors, an ensemble of two GCNs: each member trains as its own stage, the
    ensemble's test predictions are the members' mean, evaluate reproduces the RMSE, predictions are values."""
    from shinsou.molecules.model import graphs_for, predict_outputs
    from shinsou.molecules.splits import make_split

    with open(shared_data / "molecules" / "B3DB_regression.tsv", newline="", encoding="utf-8") as f:
        records = list(csv.reader(f, delimiter="\t"))[:301]
    data = tmp_path / "logbb.tsv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter="\t", lineterminator="\n").writerows(records)
    run = tmp_path / "run"
    code, out, err = cli("train", "molecules", "--data", data, "--epochs", "4", "--hidden", "32", "--trees", "20",
                         "--ensemble", "2", "--fit-on", "train", "--out", run, "--json")
    assert code == 0, err
    metrics = json.loads(out)["metrics"]
    assert metrics["task"] == "regression" and metrics["n"] == 60
    assert "ensemble member 2 of 2 (seed 1)" in err
    assert len(metrics["members"]) == 2 and metrics["baseline"]["n"] == 60 and "rmse" in metrics["baseline"]
    assert all((run / f"member-{k}" / "best.safetensors").exists() for k in (0, 1))
    report = (run / "report.html").read_text()
    assert "GCN ensemble of 2" in report and "member 2 alone" in report
    predictor = shinsou.load(run)
    molecules = predictor.run_molecules(None)
    test = molecules.subset(make_split("random", molecules.mols, 0).test)
    graphs = graphs_for(predictor.config, test)
    outs = [predict_outputs(member, graphs) for member in predictor.model.members]
    assert np.allclose(predict_outputs(predictor.model, graphs), (outs[0] + outs[1]) / 2, atol=1e-6)
    assert metrics["members"][0]["rmse"] != pytest.approx(metrics["members"][1]["rmse"])
    code, out, _ = cli("evaluate", run, "--json")  # the run rebuilds its descriptor features
    evaluated = json.loads(out)
    assert code == 0 and evaluated["rmse"] == pytest.approx(metrics["rmse"], rel=1e-5)
    assert evaluated["baseline"]["rmse"] == metrics["baseline"]["rmse"]
    assert np.isfinite(metrics["rmse"]) and metrics["rmse"] < 2.0 and "r2" in metrics
    record = predictor.predict("CCN(CC)CC")[0]  # a value, no class or probability
    assert set(record) == {"input", "value", "target", "smiles"} and record["target"] == "logBB"
    assert record["value"] == pytest.approx(float(predict_outputs(predictor.model, graphs_for(
        predictor.config, load_molecules_from_smiles(["CCN(CC)CC"])))[0]), abs=1e-6)


def test_interrupted_ensemble_resumes(cli, shared_data, tmp_path):
    data, _ = b3db_subset(shared_data, tmp_path, n=120)
    run = tmp_path / "run"
    code, out, err = cli("train", "molecules", "--data", data, "--epochs", "1", "--hidden", "16", "--no-baseline",
                         "--descriptors", "none", "--ensemble", "2", "--out", run, "--json")
    assert code == 0, err
    status = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**status, "status": "interrupted"}))
    (run / "metrics.json").unlink()
    os.environ.pop("SHINSOU_RUN_DIR", None)
    code, again, err = cli("train", "molecules", "--resume", run, "--json")
    assert code == 0, err
    assert "epoch 1/" not in err and json.loads(again)["metrics"]["roc_auc"] == json.loads(out)["metrics"]["roc_auc"]


def load_molecules_from_smiles(smiles: list[str]):
    from shinsou.molecules.data import MoleculeSet

    mols = [parse_smiles(s) for s in smiles]
    return MoleculeSet(smiles, mols, np.arange(len(mols)), None, "regression", None, "test", None)


def test_explore_b3db_subset(shared_data, tmp_path):
    data, broken_line = b3db_subset(shared_data, tmp_path)
    summary = shinsou.explore("molecules", out=tmp_path / "explore", data=str(data), split="scaffold")
    assert summary["molecules"] == 400 and summary["unparseable SMILES"] == 1
    assert (summary["train molecules"], summary["val molecules"], summary["test molecules"]) == (280, 40, 80)
    assert summary["test molecules also in train"] == 0  # no scaffold on two sides, so no molecule either
    for figure in ("atoms.png", "molecules.png"):
        assert (tmp_path / "explore" / "figures" / figure).stat().st_size > 1000
    html = Path(summary["report"]).read_text()
    assert "Classes per split" in html and f"{broken_line}" in html
