"""The MNIST pipeline end to end on real digits: training learns, checkpoints rebuild the model,
evaluate/predict print JSON, a killed run resumes to the same weights, two DDP processes train."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from shinsou.mnist.data import embedded_sample_dir, from_one_hot, load_digit_data, one_hot
from shinsou.errors import DataError
from shinsou.formats.idx import read_idx_images, read_idx_labels, write_idx
from shinsou.formats.kaggle_csv import write_kaggle_csv

SHINSOU = [sys.executable, "-m", "shinsou"]


@pytest.fixture(scope="module")
def digits_1000(tmp_path_factory) -> Path:
    """1,000 real training digits and 500 real test digits from the embedded sample, MNIST layout."""
    folder = tmp_path_factory.mktemp("mnist1000")
    sample = embedded_sample_dir()
    write_idx(folder / "train-images-idx3-ubyte", read_idx_images(sample / "train-images-idx3-ubyte.gz")[:1000])
    write_idx(folder / "train-labels-idx1-ubyte", read_idx_labels(sample / "train-labels-idx1-ubyte.gz")[:1000])
    write_idx(folder / "t10k-images-idx3-ubyte.gz", read_idx_images(sample / "t10k-images-idx3-ubyte.gz"))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", read_idx_labels(sample / "t10k-labels-idx1-ubyte.gz"))
    return folder


@pytest.fixture(scope="module")
def trained_run(digits_1000, tmp_path_factory) -> Path:
    from shinsou.cli import main

    run = tmp_path_factory.mktemp("runs") / "lenet"
    assert main(["train", "mnist", "--data", str(digits_1000), "--epochs", "10", "--out", str(run)]) == 0
    return run


def test_one_hot_as_the_lecture_writes_it():
    assert one_hot(np.array([3]))[0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    labels = np.array([0, 9, 3, 3])
    assert from_one_hot(one_hot(labels)).tolist() == labels.tolist()
    with pytest.raises(DataError, match="row 0 is not one-hot"):
        from_one_hot(np.array([[1, 1, 0]]))
    with pytest.raises(DataError, match="label 10 is outside the classes 0..9"):
        one_hot(np.array([10]))


def test_embedded_sample_is_real_mnist():
    data = load_digit_data(None)
    assert data.train.images.shape == (2000, 28, 28) and data.test.images.shape == (500, 28, 28)
    assert sorted(np.unique(data.train.labels)) == list(range(10))


def test_short_training_on_1000_real_digits_learns(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["n"] == 500
    assert metrics["accuracy"] >= 0.90
    for name in ("best.safetensors", "last.safetensors", "config.yaml", "train_state.pt", "report.html"):
        assert (trained_run / name).exists(), name
    html = (trained_run / "report.html").read_text()
    assert "Learning curves" in html and "Misclassified" in html and "data:image/png;base64" in html


def test_evaluate_json_from_the_run_directory_alone(trained_run, cli):
    code, out, err = cli("evaluate", trained_run, "--json")
    assert code == 0, err
    result = json.loads(out)
    saved = json.loads((trained_run / "metrics.json").read_text())
    assert result["n"] == 500 and result["accuracy"] == pytest.approx(saved["accuracy"])
    assert len(result["per_class"]["f1"]) == 10 and len(result["confusion_matrix"]) == 10


def test_evaluate_on_explicit_idx_and_csv_files(trained_run, digits_1000, tmp_path, cli):
    code, out, _ = cli("evaluate", trained_run, "--images", digits_1000 / "t10k-images-idx3-ubyte.gz",
                       "--labels", digits_1000 / "t10k-labels-idx1-ubyte.gz", "--json")
    assert code == 0 and json.loads(out)["n"] == 500
    images = read_idx_images(digits_1000 / "t10k-images-idx3-ubyte.gz")[:50]
    labels = read_idx_labels(digits_1000 / "t10k-labels-idx1-ubyte.gz")[:50]
    csv = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    code, out, _ = cli("evaluate", trained_run, "--images", csv, "--json")
    assert code == 0 and json.loads(out)["n"] == 50


def test_predict_png_idx_and_csv(trained_run, digits_1000, tmp_path, cli):
    images = np.asarray(read_idx_images(digits_1000 / "t10k-images-idx3-ubyte.gz")[:20])
    labels = read_idx_labels(digits_1000 / "t10k-labels-idx1-ubyte.gz")[:20]
    # a large dark-on-light scan of a digit: scaled up, inverted, RGB
    big = Image.fromarray(255 - images[0]).resize((200, 200)).convert("RGB")
    big.save(tmp_path / "scan.jpg")
    Image.fromarray(images[1]).save(tmp_path / "digit.png")
    idx = write_idx(tmp_path / "few-images-idx3-ubyte", images[2:5])
    csv = write_kaggle_csv(tmp_path / "test.csv", images[5:7])
    code, out, err = cli("predict", trained_run, tmp_path / "digit.png", idx, csv, "--json")
    assert code == 0, err
    results = json.loads(out)
    assert [r["input"].rsplit("/", 1)[-1] for r in results] == [
        "digit.png", "few-images-idx3-ubyte[0]", "few-images-idx3-ubyte[1]", "few-images-idx3-ubyte[2]",
        "test.csv[0]", "test.csv[1]"]
    predicted = [r["index"] for r in results]
    assert np.mean(np.array(predicted) == labels[[1, 2, 3, 4, 5, 6]]) >= 0.8
    assert all(len(r["top"]) == 3 and r["top"][0]["probability"] == r["probability"] for r in results)
    code, out, _ = cli("predict", trained_run, tmp_path / "scan.jpg", "--invert", "--json")
    assert code == 0 and json.loads(out)[0]["index"] == labels[0] and "warning" not in json.loads(out)[0]
    code, out, err = cli("predict", trained_run, tmp_path / "scan.jpg")
    assert code == 0 and "looks like dark ink on a light background; pass --invert" in err


def test_checkpoint_alone_rebuilds_the_model(trained_run):
    from shinsou.engine.runs import load_run_model

    model, config = load_run_model(trained_run)
    assert config["model"] == "lenet-caffe" and config["pipeline"] == "mnist"
    state = load_file(str(trained_run / "best.safetensors"))
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


BAD_INPUTS = [
    ("missing path", ["train", "mnist", "--data", "{tmp}/nowhere"], "error: {tmp}/nowhere: no such file or folder"),
    ("not MNIST layout", ["train", "mnist", "--data", "{tmp}"], "error: {tmp}: not an MNIST-layout folder (no train-images-idx3-ubyte[.gz])"),
    ("unknown model", ["train", "mnist", "--model", "lenet", "--epochs", "1"], "error: unknown model 'lenet' (known: lenet-caffe, lenet5, lenet-bn)"),
    ("bad epochs", ["train", "mnist", "--epochs", "0"], "error: --epochs must be at least 1, got 0"),
    ("not a run", ["evaluate", "{tmp}"], "error: {tmp}: not a run directory (no config.yaml; train one with `shinsou train ...`)"),
]


@pytest.mark.parametrize("name,args,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_2(tmp_path, cli, name, args, message):
    code, out, err = cli(*[a.format(tmp=tmp_path) for a in args])
    assert code == 2
    assert err.strip() == message.format(tmp=tmp_path)
    assert "Traceback" not in err


def test_mismatched_counts_and_bad_labels(tmp_path, cli):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    code, _, err = cli("train", "mnist", "--data", tmp_path)
    assert code == 2 and err.strip().endswith("holds 5 images but " + str(tmp_path / "train-labels-idx1-ubyte") + " holds 4 labels")
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([1, 2, 3, 12, 0], np.uint8))
    code, _, err = cli("train", "mnist", "--data", tmp_path)
    assert code == 2 and err.strip() == f"error: {tmp_path / 'train-labels-idx1-ubyte'}: label 12 at item 3 is outside the classes 0..9"


def test_predict_unreadable_image(trained_run, tmp_path, cli):
    (tmp_path / "broken.png").write_bytes(b"not a png")
    code, _, err = cli("predict", trained_run, tmp_path / "broken.png")
    assert code == 2 and err.strip() == f"error: {tmp_path / 'broken.png'}: cannot be read as an image (UnidentifiedImageError)"


def _run(args, env=None, **kwargs):
    return subprocess.run(SHINSOU + [str(a) for a in args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, **kwargs)


def test_killed_run_resumes_to_the_same_weights(digits_1000, tmp_path):
    args = ["train", "mnist", "--data", digits_1000, "--epochs", "5", "--seed", "7"]
    reference = _run(args + ["--out", tmp_path / "whole"])
    assert reference.returncode == 0, reference.stderr
    # start the same run, kill it hard once an epoch is on disk, then resume it
    proc = subprocess.Popen(SHINSOU + [str(a) for a in args + ["--out", tmp_path / "killed"]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "killed" / "train_state.pt"
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = torch.load(state, weights_only=True)["epoch"]
    assert done < 5, "the run finished before it could be killed"
    resumed = _run(["train", "mnist", "--resume", tmp_path / "killed"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {tmp_path / 'killed'} after epoch {done} of 5" in resumed.stderr
    whole, again = load_file(str(tmp_path / "whole" / "last.safetensors")), load_file(str(tmp_path / "killed" / "last.safetensors"))
    assert all(torch.equal(whole[k], again[k]) for k in whole)
    assert len(torch.load(tmp_path / "killed" / "train_state.pt", weights_only=True)["history"]) == 5


def test_two_process_ddp_run(digits_1000, tmp_path):
    result = _run(["train", "mnist", "--data", digits_1000, "--epochs", "2", "--devices", "2", "--out", tmp_path / "ddp"],
                  timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 process(es)" in result.stderr
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["n"] == 500 and metrics["accuracy"] > 0.5


def test_inputs_validated_where_they_enter(trained_run, tmp_path, cli):
    """A decompression bomb, IDX images of another size, a non-UTF-8 CSV, evaluation data with other classes:
    each one line and exit 2, before any scoring."""
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(bomb)  # 144 Mpixel of one bit: a few kB on disk
    code, _, err = cli("predict", trained_run, bomb)
    assert code == 2 and err.strip() == (f"error: {bomb}: 12000x12000 is over the limit of 50,000,000 pixels "
                                          "(a decompression bomb or an image far larger than any model here takes)")
    big = write_idx(tmp_path / "big-images-idx3-ubyte", np.zeros((3, 32, 32), np.uint8))
    code, _, err = cli("predict", trained_run, big)
    assert code == 2 and err.strip() == (f"error: {big}: images are 32x32, the model takes 28x28 (MNIST's size); "
                                          "resize them or pass them as image files")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("label,pixel0\n".encode() + "7,\xe9\n".encode("latin-1"))
    code, _, err = cli("predict", trained_run, latin)
    assert code == 2 and err.startswith(f"error: {latin}") and "UTF-8" in err and len(err.strip().splitlines()) == 1
    fashion = tmp_path / "fashion"
    fashion.mkdir()
    sample = embedded_sample_dir()
    write_idx(fashion / "train-images-idx3-ubyte", read_idx_images(sample / "train-images-idx3-ubyte.gz")[:50])
    write_idx(fashion / "train-labels-idx1-ubyte", read_idx_labels(sample / "train-labels-idx1-ubyte.gz")[:50])
    (fashion / "classes.txt").write_text("\n".join(f"item{i}" for i in range(10)))
    code, _, err = cli("evaluate", trained_run, "--data", fashion)
    assert code == 2 and err.strip() == (f"error: {fashion}: classes (item0, item1, item2, item3, item4, item5, ...) "
                                          "differ from the run's (0, 1, 2, 3, 4, 5, ...); evaluate on data labelled "
                                          "like the training data")


def test_a_normal_run_prints_no_library_warning(tmp_path):
    done = subprocess.run([*SHINSOU, "train", "mnist", "--epochs", "1", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "default"})
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "Automatic Mixed Precision" not in done.stderr, done.stderr
