"""End to end on the pipeline contract: `shinsou data make-traffic`, `shinsou train traffic` (on its files and on the
built-in simulator), `shinsou.load(run)`'s predict / evaluate, `shinsou evaluate` / `predict` / `explore` on a tiny
network; the baselines' errors are checked against numpy."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

from shinsou.api import load
from shinsou.errors import DataError
from shinsou.traffic.data import load_source, load_traffic_data
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


NET = ("--sim-nodes", "6", "--sim-days", "12", "--sim-seed", "1")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from shinsou.cli import main

    os.environ.pop("SHINSOU_RUN_DIR", None)
    folder = tmp_path_factory.mktemp("traffic") / "net"
    assert main(["data", "make-traffic", "--out", str(folder), *NET]) == 0
    return folder


@pytest.fixture(scope="module")
def trained(made, tmp_path_factory):
    """One run on the made files, through the Python API: (run directory, its test metrics)."""
    from shinsou.api import train

    os.environ.pop("SHINSOU_RUN_DIR", None)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    result = train("traffic", data=made, epochs=3, hidden=16, window=6, horizon=6, batch_size=64, lr=0.01,
                   out=tmp_path_factory.mktemp("runs") / "run")
    torch.set_num_threads(before)
    os.environ.pop("SHINSOU_RUN_DIR", None)
    return result.run_dir, result.metrics


def test_make_traffic_writes_the_layout(cli, tmp_path):
    code, out, _ = cli("data", "make-traffic", "--out", tmp_path / "d", "--sim-nodes", "4", "--sim-days", "1", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["nodes"] == 4 and summary["readings"] == 4 * 288
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["edges.csv", "incidents.csv", "nodes.csv", "readings.csv"]
    assert pd.read_csv(tmp_path / "d" / "readings.csv").columns.tolist() == ["timestamp", "node", "value"]


def test_make_traffic_flags_simulate_what_train_simulates(made):
    """The same --sim-nodes/--sim-days/--sim-seed in `data make-traffic` and `train traffic` give the same data."""
    files, simulated = load_traffic_data(made), load_source(None, sim_nodes=6, sim_days=12, sim_seed=1)
    assert files.network.node_ids == simulated.network.node_ids
    assert np.array_equal(files.values, simulated.values) and files.timestamps.equals(simulated.timestamps)
    assert np.array_equal(files.network.edges, simulated.network.edges)


def test_train_learns_and_beats_the_baselines(made, trained):
    run, metrics = trained
    assert (run / "report.html").exists() and (run / "best.safetensors").exists()
    assert json.loads((run / "metrics.json").read_text())["mae"] == pytest.approx(metrics["mae"])
    assert {"curves.png", "horizons.png", "held_out_day.png", "network.png", "forecast.png"} <= {
        p.name for p in (run / "figures").iterdir()}
    html = (run / "report.html").read_text()
    assert "Error per horizon" in html and "A held-out day" in html and "Config" in html

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


def test_evaluate_from_the_run_directory_alone(cli, trained, tmp_path):
    run, metrics = trained
    again = load(run).evaluate()
    assert again["mae"] == pytest.approx(metrics["mae"], rel=1e-5)
    for name in ("last_value", "historical_average"):
        assert again["baselines"][name]["mae"] == pytest.approx(metrics["baselines"][name]["mae"])
        assert again["baselines"][name]["rmse_per_step"] == pytest.approx(metrics["baselines"][name]["rmse_per_step"])
    code, out, _ = cli("evaluate", run, "--json")
    assert code == 0 and json.loads(out)["mae"] == pytest.approx(metrics["mae"], rel=1e-5)

    # other data must be the same network
    cli("data", "make-traffic", "--out", tmp_path / "other", "--sim-nodes", "7", "--sim-days", "12")
    code, _, err = cli("evaluate", run, "--data", tmp_path / "other")
    assert code == 2 and err == f"error: {tmp_path / 'other'}: node 's06' is not in the network the run was trained on\n"


def test_predict_files_and_frames_alike(cli, made, trained):
    run, _ = trained
    predictor = load(run)
    data = load_traffic_data(made)
    records = predictor.predict(made / "readings.csv")
    # one value record per sensor and horizon step, sensor by sensor: the long timestamp,node,value layout
    assert len(records) == 6 * 6 and [r["node"] for r in records[::6]] == data.network.node_ids
    first = records[0]
    assert set(first) == {"input", "value", "node", "timestamp", "minutes_ahead"}
    assert first["timestamp"] == str(data.timestamps[-1] + pd.Timedelta(minutes=5)) and first["minutes_ahead"] == 5
    assert [r["minutes_ahead"] for r in records[:6]] == [5, 10, 15, 20, 25, 30]
    assert all(0 < r["value"] < 150 for r in records)

    # the same readings as a wide DataFrame (timestamps by sensor) or as long rows forecast the same; the last hour is enough
    wide = pd.DataFrame(data.values, index=data.timestamps, columns=data.network.node_ids)
    values = [r["value"] for r in records]
    assert [r["value"] for r in predictor.predict(wide)] == pytest.approx(values, rel=1e-6)
    assert [r["value"] for r in predictor.predict(wide.iloc[-12:])] == pytest.approx(values, rel=1e-6)
    long = wide.iloc[-6:].rename_axis("timestamp").reset_index().melt("timestamp", var_name="node", value_name="value")
    assert [r["value"] for r in predictor.predict([long])] == pytest.approx(values, rel=1e-6)
    assert len(predictor.predict(predictor.example_input())) == 36

    code, out, _ = cli("predict", run, made / "readings.csv", "--json")
    assert code == 0 and [r["value"] for r in json.loads(out)] == pytest.approx(values)

    with pytest.raises(DataError, match=r"^#0: 5 timestamps, the model needs the last 6$"):
        predictor.predict(wide.iloc[-5:])
    with pytest.raises(DataError, match=r"^#0: readings every 10 min, but the run was trained on 5-minute steps$"):
        predictor.predict(wide.iloc[::2])
    with pytest.raises(DataError, match=r"^#0: no readings for node 's05', which the trained network has$"):
        predictor.predict(wide.drop(columns="s05"))
    extra = pd.concat([long, pd.DataFrame({"timestamp": [long["timestamp"].iloc[-1]], "node": ["s99"], "value": [50.0]})])
    with pytest.raises(DataError, match=r"^#0 row 36: reading for unknown node 's99' \(not in the network the run was trained on\)$"):
        predictor.predict(extra)
    with pytest.raises(DataError, match=r"^#0: a traffic forecast takes a data folder, .* got ndarray$"):
        predictor.predict(data.values)


def test_explore_the_made_files(cli, made, tmp_path):
    code, out, err = cli("explore", "traffic", "--data", made, "--out", tmp_path / "x", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["sensors"] == 6 and summary["timestamps"] == 12 * 288 and summary["days"] == 12
    assert summary["missing readings"] == 0 and summary["sensors without a segment"] == 0
    assert {"network.png", "speed_per_hour.png", "sensors_day.png"} <= {p.name for p in (tmp_path / "x" / "figures").iterdir()}
    html = (tmp_path / "x" / "explore.html").read_text()
    assert "Chronological split" in html and "Speed per hour of day" in html


def test_train_on_the_simulator_by_default(cli, tmp_path):
    run = tmp_path / "sim"
    code, out, err = cli("train", "traffic", "--sim-nodes", "5", "--sim-days", "10", "--epochs", "1", "--hidden", "8",
                         "--window", "4", "--horizon", "3", "--batch-size", "128", "--out", run)
    assert code == 0, err
    assert "test mae" in out and "simulated network (5 nodes, 10 days, seed 0)" in out and "report:" in out
    assert "T-GCN" in err and "historical average" in err  # the comparison line
    config = (run / "config.yaml").read_text()
    assert "sim_nodes: 5" in config and "pipeline: traffic" in config and "model: tgcn" in config
    assert "precision: 32-true" in config and "node_ids:" in config and "scaler:" in config
    code, out, _ = cli("runs", tmp_path, "--json")
    assert [(r["pipeline"], r["metric"], r["status"]) for r in json.loads(out)] == [("traffic", "mae", "finished")]


def test_interrupted_run_resumes_to_the_same_forecaster(tmp_path, monkeypatch):
    import shinsou.engine.trainer as trainer
    from shinsou.api import train

    options = dict(sim_nodes=4, sim_days=10, epochs=2, hidden=8, window=4, horizon=3, batch_size=128)
    whole = train("traffic", out=tmp_path / "whole", **options).metrics
    os.environ.pop("SHINSOU_RUN_DIR", None)

    real, calls = trainer.train_one_epoch, []

    def interrupted_in_the_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_one_epoch", interrupted_in_the_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train("traffic", out=tmp_path / "cut", **options)
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["status"] == "interrupted"
    monkeypatch.setattr(trainer, "train_one_epoch", real)
    resumed = train("traffic", resume=tmp_path / "cut").metrics
    assert resumed["mae"] == pytest.approx(whole["mae"], rel=1e-6)
    assert resumed["baselines"] == whole["baselines"]
