"""Bad traffic input: each mistake is one line on stderr naming the file (and line, node, timestamp) and exit status 2,
and no run directory is left behind."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Runs without --out go to ./runs: here, not into the repository."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHINSOU_RUN_DIR", raising=False)

NODES = "id,x,y\nA,0,0\nB,1,0\nC,1,1\n"
EDGES = "source,target,length\nA,B,1.0\nB,C,3.0\n"
READINGS = "timestamp,node,value\n" + "".join(
    f"2024-01-01 00:{m:02d},{n},{v}\n" for m in (0, 5, 10, 15) for n, v in (("A", 50), ("B", 40), ("C", 30)))


def folder_with(tmp_path, nodes=NODES, edges=EDGES, readings=READINGS):
    folder = tmp_path / "net"
    folder.mkdir()
    (folder / "nodes.csv").write_text(nodes)
    (folder / "edges.csv").write_text(edges)
    (folder / "readings.csv").write_text(readings)
    return folder


CASES = {
    "edge naming an unknown node": (
        dict(edges="source,target,length\nA,B,1.0\nB,Z,3.0\n"),
        "{edges} line 3: edge names unknown node 'Z' (not in nodes.csv)"),
    "duplicate node ids": (
        dict(nodes="id\nA\nB\nA\nC\n"),
        "{nodes}: duplicate node id 'A' (lines 2 and 4)"),
    "NaN reading": (
        dict(readings=READINGS.replace("2024-01-01 00:00,B,40", "2024-01-01 00:00,B,nan")),
        "{readings} line 3: reading for node 'B' at 2024-01-01 00:00 is not a number ('nan')"),
    "missing reading value": (
        dict(readings=READINGS.replace("2024-01-01 00:05,C,30", "2024-01-01 00:05,C,")),
        "{readings} line 7: reading for node 'C' at 2024-01-01 00:05 is not a number (an empty value)"),
    "empty edge list": (
        dict(edges="source,target,length\n"),
        "{edges}: no edges (a road network needs at least one road segment)"),
    "mismatched timestamps": (
        dict(readings=READINGS.replace("2024-01-01 00:05,C,30\n", "")),
        "{readings}: node 'C' has no reading at 2024-01-01 00:05:00 (every node needs a reading at every timestamp)"),
    "unevenly spaced timestamps": (
        dict(readings=READINGS.replace("00:15,", "00:25,")),
        "{readings}: timestamps are not evenly spaced (2024-01-01 00:25:00 follows 2024-01-01 00:10:00; "
        "the series steps by 5 min)"),
    "reading for an unknown node": (
        dict(readings=READINGS + "2024-01-01 00:15,Q,20\n"),
        "{readings} line 14: reading for unknown node 'Q' (not in nodes.csv)"),
    "two readings for one node and time": (
        dict(readings=READINGS + "2024-01-01 00:15,A,20\n"),
        "{readings} line 14: a second reading for node 'A' at 2024-01-01 00:15:00"),
    "unreadable timestamp": (
        dict(readings=READINGS.replace("2024-01-01 00:10,A", "yesterday,A")),
        "{readings} line 8: cannot read timestamp 'yesterday'"),
    "edge from a node to itself": (
        dict(edges="source,target,length\nA,A,1.0\n"),
        "{edges} line 2: edge from node 'A' to itself"),
    "negative road length": (
        dict(edges="source,target,length\nA,B,-1\n"),
        "{edges} line 2: length must be a non-negative number, got '-1'"),
    "edges without a length column": (
        dict(edges="source,target\nA,B\n"),
        "{edges}: no 'length' column (columns: source, target; expected source, target, length)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_csv_input(cli, tmp_path, case):
    files, message = CASES[case]
    folder = folder_with(tmp_path, **files)
    code, out, err = cli("train", "traffic", "--data", folder, "--out", tmp_path / "run")
    paths = {name: folder / f"{name}.csv" for name in ("nodes", "edges", "readings")}
    assert (code, err) == (2, f"error: {message.format(**paths)}\n")
    assert not (tmp_path / "run").exists()


def test_not_a_traffic_folder(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = cli("train", "traffic", "--data", tmp_path / "empty", "--out", tmp_path / "run")
    assert code == 2
    assert err == (f"error: {tmp_path / 'empty'}: not a traffic data folder (expected nodes.csv, edges.csv, readings.csv, "
                   "or a METR-LA/PEMS-BAY speed table (.h5 or .csv) with a distances CSV whose columns are from,to,cost)\n")


def dcrnn_folder(tmp_path, speeds, distances="from,to,cost\n1,2,100\n2,1,120\n"):
    folder = tmp_path / "metr"
    folder.mkdir()
    (folder / "metr-la.csv").write_text(speeds)
    (folder / "distances_la_2012.csv").write_text(distances)
    return folder


def test_dcrnn_duplicate_sensor(cli, tmp_path):
    folder = dcrnn_folder(tmp_path, ",1,2,1\n2012-03-01 00:00:00,60,61,62\n2012-03-01 00:05:00,60,61,62\n")
    code, _, err = cli("train", "traffic", "--data", folder)
    assert (code, err) == (2, f"error: {folder / 'metr-la.csv'}: duplicate sensor id '1' (columns 2 and 4)\n")


def test_dcrnn_nan_speed(cli, tmp_path):
    folder = dcrnn_folder(tmp_path, ",1,2\n2012-03-01 00:00:00,60,61\n2012-03-01 00:05:00,60,NaN\n")
    code, _, err = cli("train", "traffic", "--data", folder)
    assert (code, err) == (2, f"error: {folder / 'metr-la.csv'}: reading for sensor '2' at 2012-03-01 00:05:00 is not a number ('NaN')\n")


def test_dcrnn_no_edges_among_sensors(cli, tmp_path):
    folder = dcrnn_folder(tmp_path, ",1,2\n2012-03-01 00:00:00,60,61\n2012-03-01 00:05:00,60,62\n",
                          distances="from,to,cost\n1,7,100\n")
    code, _, err = cli("train", "traffic", "--data", folder)
    assert (code, err) == (2, f"error: {folder / 'distances_la_2012.csv'}: no edges between the speed table's sensors "
                              "(a road network needs at least one)\n")


def test_too_little_data_for_the_window(cli, tmp_path):
    folder = folder_with(tmp_path)
    code, _, err = cli("train", "traffic", "--data", folder, "--out", tmp_path / "run")
    assert code == 2
    assert err == (f"error: {folder}: 4 timestamps leave 2 for training, fewer than window + horizon = 24; "
                   "use more data or a shorter --window/--horizon\n")


def test_no_run_directory_is_left_behind(cli, tmp_path):
    folder = dcrnn_folder(tmp_path, ",1,2,1\n2012-03-01 00:00:00,60,61,62\n2012-03-01 00:05:00,60,61,62\n")
    assert cli("train", "traffic", "--data", folder)[0] == 2
    assert list((tmp_path / "runs").iterdir()) == []


def test_bad_flags(cli, tmp_path):
    assert cli("train", "traffic", "--window", "0")[2] == "error: --window must be at least 1, got 0\n"
    assert cli("train", "traffic", "--sim-nodes", "1")[2] == "error: --sim-nodes must be at least 2, got 1\n"
    assert cli("train", "traffic", "--distances", "d.csv")[2] == \
        "error: --distances goes with --data (a METR-LA/PEMS-BAY speed table)\n"
    code, _, err = cli("train", "traffic", "--model", "lenet5")
    assert code == 2 and err == "error: unknown model 'lenet5' (known: tgcn)\n"
    code, _, err = cli("train", "traffic", "--precision", "64")
    assert code == 2 and err == "error: unknown precision '64' (known: auto, 32-true, bf16-mixed, 16-mixed)\n"
    code, _, err = cli("data", "make-traffic", "--out", tmp_path / "d", "--step-minutes", "7")
    assert (code, err) == (2, "error: --step-minutes must divide 1440 (the minutes of a day), got 7\n")
    code, _, err = cli("data", "make-traffic", "--out", tmp_path / "d", "--sim-nodes", "1")
    assert (code, err) == (2, "error: --sim-nodes must be at least 2, got 1\n")
    assert not (tmp_path / "d").exists() and not (tmp_path / "runs").exists()
