"""End to end: `shinsou data make-traffic`, `shinsou train traffic` (on its files and on the built-in simulator),
`shinsou evaluate` and `shinsou predict` on a tiny network; the baselines' errors are checked against numpy."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

from shinsou.traffic.data import load_traffic_data
from shinsou.traffic.windows import split_series, window_ends

@pytest.fixture(autouse=True)
def fresh_run_dir():
    """prepare_run_dir remembers its run directory in SHINSOU_RUN_DIR (for DDP workers); each in-process run here is new."""
    os.environ.pop("SHINSOU_RUN_DIR", None)
    yield
    os.environ.pop("SHINSOU_RUN_DIR", None)


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny model's ops are too small to split: on a busy 2-core machine a second thread made them 20x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TRAIN = ("--epochs", "3", "--hidden", "16", "--window", "6", "--horizon", "6", "--batch-size", "64", "--lr", "0.01")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from shinsou.cli import main

    os.environ.pop("SHINSOU_RUN_DIR", None)
    folder = tmp_path_factory.mktemp("traffic") / "net"
    assert main(["data", "make-traffic", "--out", str(folder), "--nodes", "6", "--days", "12", "--seed", "1"]) == 0
    return folder


def test_make_traffic_writes_the_layout(cli, tmp_path):
    code, out, _ = cli("data", "make-traffic", "--out", tmp_path / "d", "--nodes", "4", "--days", "1", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["nodes"] == 4 and summary["readings"] == 4 * 288
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["edges.csv", "incidents.csv", "nodes.csv", "readings.csv"]
    assert pd.read_csv(tmp_path / "d" / "readings.csv").columns.tolist() == ["timestamp", "node", "value"]


def test_train_evaluate_predict_on_files(cli, made, tmp_path):
    run = tmp_path / "run"
    code, out, err = cli("train", "traffic", "--data", made, *TRAIN, "--out", run, "--json")
    assert code == 0, err
    metrics = json.loads(out)
    assert (run / "report.html").exists() and (run / "best.safetensors").exists()
    assert {"curves.png", "horizons.png", "held_out_day.png", "network.png", "forecast.png"} <= {
        p.name for p in (run / "figures").iterdir()}

    # the baselines, recomputed here with numpy on the same held-out windows
    data = load_traffic_data(made)
    split = split_series(len(data.timestamps), data.steps_per_day, 6, 6)
    ends = window_ends(split.test, 6, 6)
    actual = data.values[ends[:, None] + np.arange(1, 7)]  # (S, 6, N)
    lv_mae = np.abs(data.values[ends][:, None, :] - actual).mean()
    assert metrics["baselines"]["last_value"]["mae"] == pytest.approx(lv_mae, rel=1e-6)
    a, b = split.train
    frame = pd.DataFrame(data.values[a:b], index=data.timestamps[a:b])
    means = frame.groupby([frame.index.day_of_week >= 5, frame.index.hour, frame.index.minute]).mean()
    future = data.timestamps[(ends[:, None] + np.arange(1, 7)).ravel()]
    ha = np.stack([means.loc[(t.day_of_week >= 5, t.hour, t.minute)].to_numpy() for t in future]).reshape(actual.shape)
    assert metrics["baselines"]["historical_average"]["mae"] == pytest.approx(np.abs(ha - actual).mean(), rel=1e-6)
    assert metrics["n_windows"] == len(ends) and metrics["n_nodes"] == 6 and metrics["test_days"] == 2
    assert len(metrics["mae_per_step"]) == 6
    # three epochs on 6 nodes already beat both baselines (here 3.5 against 3.9 and 7.6 km/h)
    assert metrics["mae"] < metrics["baselines"]["last_value"]["mae"] < metrics["baselines"]["historical_average"]["mae"]
    assert metrics["beats_baselines"] is True

    code, out, _ = cli("evaluate", run, "--json")
    again = json.loads(out)
    assert code == 0 and again["mae"] == pytest.approx(metrics["mae"], rel=1e-5)
    for name in ("last_value", "historical_average"):
        assert again["baselines"][name]["mae"] == pytest.approx(metrics["baselines"][name]["mae"])
        assert again["baselines"][name]["rmse_per_step"] == pytest.approx(metrics["baselines"][name]["rmse_per_step"])

    code, out, _ = cli("predict", run, made / "readings.csv", "--json", "--out", tmp_path / "fc")
    forecasts = json.loads(out)
    assert code == 0 and [f["node"] for f in forecasts] == data.network.node_ids
    assert all(len(f["forecast"]) == 6 for f in forecasts)
    assert forecasts[0]["timestamps"][0] == str(data.timestamps[-1] + pd.Timedelta(minutes=5))
    assert len(pd.read_csv(tmp_path / "fc" / "forecast-readings.csv")) == 36

    # other data must be the same network
    cli("data", "make-traffic", "--out", tmp_path / "other", "--nodes", "7", "--days", "12")
    code, _, err = cli("evaluate", run, "--data", tmp_path / "other")
    assert code == 2 and err == f"error: {tmp_path / 'other'}: node 's06' is not in the network the run was trained on\n"


def test_train_on_the_simulator_by_default(cli, tmp_path):
    run = tmp_path / "sim"
    code, out, err = cli("train", "traffic", "--sim-nodes", "5", "--sim-days", "10", "--epochs", "1", "--hidden", "8",
                         "--window", "4", "--horizon", "3", "--batch-size", "128", "--out", run)
    assert code == 0, err
    assert "T-GCN" in out and "historical average" in out and "report:" in out
    config = (run / "config.yaml").read_text()
    assert "sim_nodes: 5" in config and "pipeline: traffic" in config and "model: tgcn" in config
