"""The pipeline contract end to end on a pipeline that lives only in the tests (tests/toy_pipeline/digits8):
one package plus one line in PIPELINES gives train, evaluate, predict, runs, explore and the Python API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import shinsou
from shinsou import pipelines
from shinsou.cli import main

TOY = Path(__file__).parent / "toy_pipeline"


@pytest.fixture()
def digits8(monkeypatch):
    monkeypatch.syspath_prepend(str(TOY))
    monkeypatch.setitem(pipelines.PIPELINES, "digits8", "digits8")  # the one line a new pipeline adds
    return "digits8"


@pytest.fixture()
def trained(digits8, tmp_path, capsys):
    run = tmp_path / "runs" / "d8"
    assert main(["train", "digits8", "--epochs", "6", "--out", str(run), "--json"]) == 0
    return run, json.loads(capsys.readouterr().out)


def test_train_learns_and_writes_the_run(trained):
    run, out = trained
    assert out["run_dir"] == str(run)
    assert out["metrics"]["accuracy"] > 0.85  # chance is 0.10
    for name in ("config.yaml", "best.safetensors", "last.safetensors", "train_state.pt", "metrics.json",
                 "report.html", "run.json"):
        assert (run / name).exists(), name
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    status = json.loads((run / "run.json").read_text())
    assert status["status"] == "finished" and status["pipeline"] == "digits8"


def test_evaluate_predict_runs_explore(trained, tmp_path, capsys):
    run, out = trained
    assert main(["evaluate", str(run), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["accuracy"] == pytest.approx(out["metrics"]["accuracy"])
    from sklearn.datasets import load_digits

    image = load_digits().images[0]  # a real 0
    np.save(tmp_path / "zero.npy", image)
    assert main(["predict", str(run), str(tmp_path / "zero.npy"), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert records[0]["class"] == "0" and records[0]["input"].endswith("zero.npy")
    assert main(["runs", str(tmp_path / "runs"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{**rows[0], "pipeline": "digits8", "epochs": 6, "planned": 6, "status": "finished",
                     "metric": "accuracy"}]
    assert main(["explore", "digits8", "--out", str(tmp_path / "explore"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["train images"] + summary["test images"] < 1797 and Path(summary["report"]).exists()


def test_python_api_load_predict(trained):
    run, _ = trained
    predictor = shinsou.load(run)
    from sklearn.datasets import load_digits

    digits = load_digits()
    records = predictor.predict(list(digits.images[:20]))
    assert [r["input"] for r in records[:2]] == ["#0", "#1"]
    assert sum(r["class"] == str(t) for r, t in zip(records, digits.target[:20])) >= 17
    assert predictor.predict(predictor.example_input())[0]["top"][0]["probability"] <= 1.0


def test_new_pipeline_has_generated_help(digits8, capsys):
    assert main(["train", "digits8", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--hidden" in text and "Width of the hidden layer" in text and "(default: 64)" in text


def test_bad_config_values_are_refused_before_training(digits8, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: three\n")
    assert main(["train", "digits8", "--config", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert f"{bad}: 'epochs' must be a whole number, got 'three'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    assert main(["train", "digits8", "--precision", "bf16", "--out", str(tmp_path / "r")]) == 2
    assert "unknown precision 'bf16' (known: auto, 32-true, bf16-mixed, 16-mixed)" in capsys.readouterr().err


def test_out_naming_a_file_and_resume_of_another_pipeline(trained, tmp_path, capsys):
    run, _ = trained
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["train", "digits8", "--out", str(afile)]) == 2
    assert f"--out {afile} is a file" in capsys.readouterr().err
    assert main(["train", "mnist", "--resume", str(run)]) == 2
    assert f"{run} is a 'digits8' run, not 'mnist'; resume it with `shinsou train digits8 --resume {run}`" \
        in capsys.readouterr().err


def test_ctrl_c_stops_and_resume_finishes(digits8, tmp_path, capsys, monkeypatch):
    import shinsou.engine.trainer as trainer

    real, calls = trainer.train_one_epoch, []

    def interrupted_after_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_one_epoch", interrupted_after_two)
    run = tmp_path / "r"
    assert main(["train", "digits8", "--epochs", "4", "--out", str(run)]) == 130
    assert f"continue with: shinsou train digits8 --resume {run}" in capsys.readouterr().err
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    monkeypatch.setattr(trainer, "train_one_epoch", real)
    assert main(["train", "digits8", "--resume", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["accuracy"] > 0.5 and json.loads((run / "run.json").read_text())["status"] == "finished"


def test_corrupt_training_state_is_one_line(trained, capsys):
    run, _ = trained
    status = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**status, "status": "interrupted"}))
    (run / "train_state.pt").write_bytes(b"not a checkpoint")
    assert main(["train", "digits8", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {run / 'train_state.pt'}: the training state cannot be read (UnpicklingError); " \
                  "the run cannot be resumed, start a new one" and len(err.splitlines()) == 1


def test_loading_a_run_imports_no_training_code(trained):
    run, _ = trained
    code = (f"import sys; sys.path.insert(0, {str(TOY)!r}); import shinsou, shinsou.pipelines as p; "
            f"p.PIPELINES['digits8'] = 'digits8'; shinsou.load({str(run)!r}); "
            "bad = [m for m in ('matplotlib', 'lightning_fabric', 'digits8.train', 'shinsou.engine.trainer') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_runs_tells_running_from_killed(trained, capsys):
    import os
    import socket

    run, _ = trained
    (run / "metrics.json").unlink()
    status = json.loads((run / "run.json").read_text())
    for pid, expected in ((os.getpid(), "running"), (2**22 + 7, "interrupted (resumable)")):
        (run / "run.json").write_text(json.dumps({**status, "status": "running", "pid": pid,
                                                  "host": socket.gethostname()}))
        assert main(["runs", str(run.parent), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)[0]["status"] == expected
