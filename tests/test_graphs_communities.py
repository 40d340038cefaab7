"""Node classification: the karate club (Kipf & Welling's one labelled member per community), a Planetoid fixture
written in the raw `ind.cora.*` format, nodes.csv + edges.csv graphs, each bad input with its one line and exit 2;
training through the CLI, the Predictor (node ids or whole graphs) and the data report."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import shinsou
from shinsou.errors import DataError
from shinsou.graph.data import karate_club, load_csv_graph, load_graph, planetoid_folder


@pytest.fixture(autouse=True)
def fresh_run_dir():
    """prepare_run_dir remembers its run directory in SHINSOU_RUN_DIR (for DDP workers); each in-process run here is new."""
    os.environ.pop("SHINSOU_RUN_DIR", None)
    yield
    os.environ.pop("SHINSOU_RUN_DIR", None)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def two_cliques(folder: Path, nodes: str | None = None, edges: str | None = None) -> Path:
    """Nodes a..f: {a, b, c} and {d, e, f} are triangles joined by c-d; one feature that tells them apart."""
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "nodes.csv", nodes or "id,f1,f2,label\na,1.0,0,left\nb,0.9,0,left\nc,0.8,0.1,\n"
                                         "d,0.1,0.9,right\ne,0,1.0,\nf,0,0.8,right\n")
    write(folder / "edges.csv", edges or "source,target,weight\na,b,1\nb,c,1\na,c,2\nc,d,0.5\nd,e,1\ne,f,1\nd,f,1\n")
    return folder


# ---- loaders ---------------------------------------------------------------------------------------------------

def test_karate_one_labelled_member_per_community():
    graph = karate_club()
    data = graph.data
    assert graph.num_nodes == 34 and data.num_edges == 156  # 78 friendships, both ways
    assert data.train_mask.sum() == 4 and sorted(data.y[data.train_mask].tolist()) == [0, 1, 2, 3]
    assert data.test_mask.sum() == 30 and not (data.train_mask & data.test_mask).any()
    assert torch.equal(data.x, torch.eye(34))


def test_csv_graph_undirected_with_weights(tmp_path):
    graph = load_csv_graph(two_cliques(tmp_path / "g"), directed=False, seed=0)
    data = graph.data
    assert graph.node_ids == list("abcdef")
    assert graph.class_names == ["left", "right"]
    assert data.y.tolist() == [0, 0, -1, 1, -1, 1]  # unlabelled nodes are -1, only predicted
    assert data.x.shape == (6, 2) and data.x[3].tolist() == pytest.approx([0.1, 0.9])
    assert data.num_edges == 14  # 7 edges both ways
    edges = {(int(a), int(b)): float(w) for (a, b), w in zip(data.edge_index.T, data.edge_weight)}
    assert edges[(0, 2)] == edges[(2, 0)] == 2.0 and edges[(2, 3)] == 0.5
    labelled = data.train_mask | data.val_mask | data.test_mask
    assert labelled.tolist() == [True, True, False, True, False, True]
    assert data.train_mask.sum() >= 2  # at least one per class


def test_csv_graph_directed_keeps_edges_one_way(tmp_path):
    graph = load_csv_graph(two_cliques(tmp_path / "g"), directed=True)
    assert graph.data.num_edges == 7
    assert (0, 1) in {tuple(e) for e in graph.data.edge_index.T.tolist()}
    assert (1, 0) not in {tuple(e) for e in graph.data.edge_index.T.tolist()}


def test_csv_graph_without_features_uses_identity_and_labels_csv(tmp_path):
    folder = tmp_path / "g"
    two_cliques(folder, nodes="id,split\na,train\nb,test\nc,\nd,train\ne,val\nf,test\n")
    write(folder / "labels.csv", "id,label\na,0\nb,0\nd,1\ne,1\nf,1\n")
    graph = load_csv_graph(folder)
    assert torch.equal(graph.data.x, torch.eye(6))
    assert graph.data.train_mask.tolist() == [True, False, False, True, False, False]
    assert graph.data.val_mask.tolist() == [False, False, False, False, True, False]
    assert graph.data.test_mask.tolist() == [False, True, False, False, False, True]


def write_planetoid(folder: Path, prefix: str = "cora", n_train: int = 6, n_other: int = 594, n_test: int = 10,
                    features: int = 5, classes: int = 3, seed: int = 0) -> dict:
    """The raw Planetoid layout (Yang et al. 2016): pickled scipy CSR features x/allx/tx, one-hot numpy labels
    y/ally/ty, a dict-of-lists graph, and test.index, one test node id per line in the file's own order."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_all = n_train + n_other
    allx = sp.csr_matrix(rng.integers(0, 2, (n_all, features)).astype(np.float32))
    tx = sp.csr_matrix(rng.integers(0, 2, (n_test, features)).astype(np.float32))
    labels = rng.integers(0, classes, n_all + n_test)
    onehot = np.eye(classes)[labels]
    test_index = rng.permutation(np.arange(n_all, n_all + n_test))
    graph = defaultdict(list)
    for i in range(n_all + n_test):
        j = (i + 1) % (n_all + n_test)
        graph[i].append(j)
        graph[j].append(i)
    parts = {"x": allx[:n_train], "y": onehot[:n_train], "allx": allx, "ally": onehot[:n_all], "tx": tx,
             "ty": onehot[n_all:], "graph": graph}
    for name, value in parts.items():
        with open(folder / f"ind.{prefix}.{name}", "wb") as f:
            pickle.dump(value, f)
    (folder / f"ind.{prefix}.test.index").write_text("".join(f"{i}\n" for i in test_index))
    return {"tx": tx.toarray(), "test_index": test_index, "n": n_all + n_test}


def test_planetoid_fixture_through_torch_geometric_reader(tmp_path):
    fixture = write_planetoid(tmp_path / "cora")
    graph = planetoid_folder(tmp_path / "cora")
    data = graph.data
    assert data.num_nodes == fixture["n"] == 610
    assert (data.train_mask.sum(), data.val_mask.sum(), data.test_mask.sum()) == (6, 500, 10)  # the standard split
    # row i of tx belongs to node test.index[i]
    np.testing.assert_array_equal(data.x[fixture["test_index"]].numpy(), fixture["tx"])
    assert load_graph(str(tmp_path / "cora")).num_nodes == 610  # found by its ind.cora.x file
    assert not (tmp_path / "cora" / "processed").exists()  # the user's folder is only read


# ---- bad inputs: one line, exit 2 ------------------------------------------------------------------------------

BAD_GRAPHS = [
    ("unknown_node", None, "source,target\na,b\nb,zed\n", "edges.csv line 3: target node 'zed' is not in nodes.csv"),
    ("duplicate_id", "id,f1,label\na,1,x\nb,2,y\na,3,x\n", None, "nodes.csv line 4: duplicate node id 'a' (first on line 2)"),
    ("nan_feature", "id,f1,label\na,1,x\nb,nan,y\n", None, "nodes.csv line 3: feature 'f1' of node 'b' is NaN or infinite"),
    ("empty_feature", "id,f1,label\na,1,x\nb,,y\n", None, "nodes.csv line 3: feature 'f1' of node 'b' is NaN or infinite"),
    ("text_feature", "id,f1,label\na,1,x\nb,high,y\n", None, "nodes.csv line 3: feature 'f1' of node 'b' is not a number ('high')"),
    ("empty_edges", None, "source,target\n", "edges.csv: no edges (a graph needs at least one edge)"),
    ("bad_weight", None, "source,target,weight\na,b,-1\n", "edges.csv line 2: weight '-1' must be a positive number"),
]


@pytest.mark.parametrize("name,nodes,edges,message", BAD_GRAPHS, ids=[b[0] for b in BAD_GRAPHS])
def test_bad_graph_inputs(cli, tmp_path, name, nodes, edges, message):
    folder = tmp_path / name
    folder.mkdir()
    write(folder / "nodes.csv", nodes or "id,label\na,x\nb,y\n")
    write(folder / "edges.csv", edges or "source,target\na,b\n")
    code, out, err = cli("train", "graph", "--data", folder, "--out", tmp_path / "run", "--epochs", "2")
    file = "edges.csv" if message.startswith("edges") else "nodes.csv"
    assert code == 2
    assert err.strip() == f"error: {folder / file}{message[len(file):]}"
    assert not (tmp_path / "run" / "config.yaml").exists()


def test_label_for_a_node_that_does_not_exist(cli, tmp_path):
    folder = two_cliques(tmp_path / "g", nodes="id,f1\na,1\nb,1\nc,1\nd,0\ne,0\nf,0\n")
    write(folder / "labels.csv", "id,label\na,0\nq,1\n")
    code, _, err = cli("train", "graph", "--data", folder, "--out", tmp_path / "run")
    assert code == 2
    assert err.strip() == f"error: {folder / 'labels.csv'} line 3: label for node 'q', which is not in nodes.csv"


def test_missing_graph_and_planetoid_files(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_graph(str(tmp_path / "nowhere"))
    (tmp_path / "cora").mkdir()
    (tmp_path / "cora" / "ind.cora.x").write_bytes(b"")
    with pytest.raises(DataError, match=r"Planetoid files incomplete, no ind\.cora\.tx"):
        load_graph(str(tmp_path / "cora"))


# ---- end to end ------------------------------------------------------------------------------------------------

def test_train_karate_learns_the_communities(cli, tmp_path):
    """200 full-graph steps (Kipf & Welling's setting): well above the 0.25 of guessing among 4 communities."""
    run = tmp_path / "karate"
    code, out, err = cli("train", "graph", "--out", run, "--json")
    assert code == 0, err
    metrics = json.loads(out)["metrics"]
    assert metrics["n"] == 30 and metrics["accuracy"] >= 0.6 and metrics["train_accuracy"] == 1.0
    assert "epoch 10/200" in err and "epoch 200/200" in err and "epoch 30/200" not in err  # steps, every tenth check
    for figure in ("embedding.png", "communities.png", "curves.png"):
        assert (run / "figures" / figure).stat().st_size > 1000
    assert "Config" in (run / "report.html").read_text()
    code, out, _ = cli("evaluate", run, "--json")
    assert code == 0 and json.loads(out)["accuracy"] == pytest.approx(metrics["accuracy"])
    code, out, _ = cli("predict", run, "karate", "--json")
    predictions = json.loads(out)
    assert code == 0 and len(predictions) == 34 and predictions[0]["input"] == "karate#0"
    graph = karate_club()
    correct = sum(p["index"] == int(graph.data.y[i]) for i, p in enumerate(predictions) if graph.data.test_mask[i])
    assert correct / 30 == pytest.approx(metrics["accuracy"])

    predictor = shinsou.load(run)  # node ids of the run's graph, as strings or numbers
    records = predictor.predict(["0", 33, predictor.example_input()])
    assert [r["node"] for r in records[:2]] == ["0", "33"] and records[2]["node"] == "1"  # the first test node
    assert records[0]["class"] == graph.class_names[int(graph.data.y[0])]  # a training node
    assert [r["probability"] for r in records[:2]] == [predictions[0]["probability"], predictions[33]["probability"]]
    assert sum(t["probability"] for t in predictor.predict(0, top=4)[0]["top"]) == pytest.approx(1.0, abs=1e-6)
    assert loaded_modules(run) == []
    with pytest.raises(DataError, match=r"^zed: not a node of the run's graph karate \(0, 1, 2, 3, 4, \.\.\. \(34 nodes\)\)"):
        predictor.predict("zed")


def loaded_modules(run: Path) -> list[str]:
    """Training-only modules that loading the run imported, in a fresh interpreter (a Predictor must need none)."""
    code = (f"import sys, shinsou; shinsou.load({str(run)!r}); print([m for m in ('matplotlib', 'lightning_fabric', "
            f"'shinsou.engine.trainer', 'shinsou.graph.train', 'shinsou.molecules.train') if m in sys.modules])")
    return json.loads(subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True,
                                     check=True).stdout.replace("'", '"'))


def test_train_csv_graph_and_planetoid_fixture(cli, tmp_path):
    run = tmp_path / "csv"
    code, out, err = cli("train", "graph", "--data", two_cliques(tmp_path / "g"), "--epochs", "30", "--out", run,
                         "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["class_names"] == ["left", "right"]
    records = shinsou.load(run).predict(["c", "e"])  # the two unlabelled nodes, one in each triangle
    assert [r["class"] for r in records] == ["left", "right"]
    os.environ.pop("SHINSOU_RUN_DIR", None)
    write_planetoid(tmp_path / "cora")
    code, out, err = cli("train", "graph", "--data", tmp_path / "cora", "--epochs", "3", "--out", tmp_path / "p", "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["n"] == 10
    code, _, err = cli("evaluate", run, "--data", tmp_path / "cora")
    assert code == 2 and "nodes have 5 features, the run's model takes 2" in err


def test_bad_options_before_any_run_directory(cli, tmp_path):
    code, _, err = cli("train", "graph", "--activation", "gelu", "--out", tmp_path / "run")
    assert code == 2 and err.strip() == "error: unknown activation 'gelu' (known: relu, tanh)"
    code, _, err = cli("train", "graph", "--train-fraction", "0.9", "--val-fraction", "0.2", "--out", tmp_path / "run")
    assert code == 2 and "must be fractions that add up to at most 1, got 0.9 and 0.2" in err
    assert not (tmp_path / "run").exists()


def test_explore_karate(tmp_path):
    summary = shinsou.explore("graph", out=tmp_path / "explore")
    assert (summary["nodes"], summary["directed edges"], summary["classes"]) == (34, 156, 4)
    assert (summary["train nodes"], summary["test nodes"], summary["max degree"]) == (4, 30, 17)  # node 33: 17 friends
    assert summary["isolated nodes"] == 0 and summary["self-loops"] == 0
    for figure in ("degrees.png", "graph.png"):
        assert (tmp_path / "explore" / "figures" / figure).stat().st_size > 1000
    assert Path(summary["report"]).exists()
