"""`shinsou train transfer` end to end: ImageNet EfficientNet-Lite0 learns a small ImageFolder set, the run
evaluates and predicts through the shared CLI and the loaded Predictor (paths, PIL images, arrays, bytes),
--compare-scratch reports both nets, explore finds a planted duplicate, and bad input exits 2."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

COLOURS = {"blue": 2, "green": 1, "red": 0}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a shared 2-core machine two threads spin against each other (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def colour_folder(root: Path, per_class: int = 20, size: int = 24, seed: int = 0) -> Path:
    """Noise with a bright square of the class colour somewhere in it: trivial for ImageNet features."""
    rng = np.random.default_rng(seed)
    for name, channel in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = rng.integers(0, 90, (size, size, 3), dtype=np.uint8)
            y, x = rng.integers(0, size // 2, 2)
            image[y:y + size // 2, x:x + size // 2, channel] = 230
            Image.fromarray(image).save(root / name / f"{name}_{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def colours(tmp_path_factory) -> Path:
    return colour_folder(tmp_path_factory.mktemp("colours") / "data")


@pytest.fixture(scope="module")
def run(colours, tmp_path_factory):
    from shinsou.cli import main

    out = tmp_path_factory.mktemp("runs") / "lite0"
    code = main(["train", "transfer", "--data", str(colours), "--backbone", "efficientnet_lite0", "--weights", "imagenet",
                 "--image-size", "32", "--epochs", "6", "--batch-size", "6", "--lr", "0.003", "--val-fraction", "0.25",
                 "--compare-scratch", "--seed", "0", "--out", str(out)])
    assert code == 0
    return out


def test_training_learns_and_writes_a_complete_run(run, capsys):
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n"] == 12 and metrics["class_names"] == sorted(COLOURS)  # round(0.2 * 20) = 4 test images per class
    assert metrics["accuracy"] >= 0.9
    assert metrics["freeze"]["trainable_layers"] == ["blocks.15", "conv_head", "head"]
    assert set(metrics["scratch"]) == {"accuracy", "class_accuracy", "n", "loss"} and metrics["scratch"]["n"] == 12
    report = (run / "report.html").read_text()
    assert "Transfer vs from scratch" in report and "Frozen and trained layers" in report
    for name in ("best.safetensors", "config.yaml", "scratch/best.safetensors", "figures/comparison.png"):
        assert (run / name).exists(), name


def test_evaluate_and_predict_through_the_shared_cli(run, colours, cli):
    code, out, err = cli("evaluate", run, "--json")
    assert code == 0, err
    result = json.loads(out)
    saved = json.loads((run / "metrics.json").read_text())
    assert result["n"] == 12 and result["accuracy"] == pytest.approx(saved["accuracy"])
    red = sorted((colours / "red").glob("*.png"))[0]
    code, out, err = cli("predict", run, red, "--json")
    assert code == 0, err
    [prediction] = json.loads(out)
    assert prediction["input"] == str(red) and prediction["class"] in COLOURS
    assert [t["class"] for t in prediction["top"]][0] == prediction["class"]
    assert sum(t["probability"] for t in prediction["top"]) == pytest.approx(1.0, abs=1e-5)


def test_predictor_takes_the_same_image_as_a_path_pil_image_array_or_bytes(run, colours):
    import shinsou
    from shinsou.engine.records import record_kind

    predictor = shinsou.load(run)
    right = 0
    for name in COLOURS:
        path = sorted((colours / name).glob("*.png"))[-1]
        image = Image.open(path)
        records = predictor.predict([path, image, np.asarray(image), path.read_bytes()], top=2)
        assert [r["input"] for r in records] == [str(path), "#1", "#2", "#3"]
        assert all(record_kind(r) == "classes" and len(r["top"]) == 2 for r in records)
        first = [t["probability"] for t in records[0]["top"]]
        for r in records[1:]:  # decoded the same way, whatever form the image came in
            assert r["class"] == records[0]["class"] and [t["probability"] for t in r["top"]] == pytest.approx(first, abs=1e-6)
        right += records[0]["class"] == name
    assert right >= 2  # the last image of each class; chance is 1 in 3
    grey = np.full((40, 40), 200, np.uint8)  # a grey array is replicated to RGB, like the IDX images
    assert predictor.predict(grey)[0]["input"] == "#0"
    assert predictor.predict(predictor.example_input())[0]["class"] in COLOURS
    x, name = predictor.explain_input(grey)
    assert tuple(x.shape) == (1, 3, 32, 32) and name == "#0"


def test_evaluate_streams_a_folder_and_skips_its_corrupt_files(run, colours, tmp_path):
    import shinsou

    copy = shutil.copytree(colours, tmp_path / "copy")
    saved = json.loads((run / "metrics.json").read_text())
    predictor = shinsou.load(run)
    for f in (copy / "green").iterdir():  # every green file broken: the test split meets some of them
        f.write_bytes(b"GIF89a broken")
    metrics = predictor.evaluate(str(copy))
    assert len(metrics["skipped_files"]) == 4 and all("/green/" in f for f in metrics["skipped_files"])
    assert metrics["n"] == saved["n"] - 4 and metrics["confusion_matrix"][1] == [0, 0, 0]


def test_evaluate_refuses_data_with_other_class_names(run, colours, tmp_path):
    import shinsou
    from shinsou.errors import DataError

    other = tmp_path / "other"
    for name, source in zip(("cyan", "magenta", "yellow"), sorted(COLOURS)):
        shutil.copytree(colours / source, other / name)
    with pytest.raises(DataError) as e:
        shinsou.load(run).evaluate(str(other))
    assert str(e.value) == (f"{other}: classes (cyan, magenta, yellow) differ from the run's (blue, green, red); "
                            "evaluate on data labelled like the training data")


def test_loading_the_run_imports_no_training_code(run):
    code = (f"import sys, shinsou; shinsou.load({str(run)!r}); "
            "print([m for m in ('matplotlib', 'lightning_fabric', 'shinsou.transfer.train', 'shinsou.engine.trainer') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_explore_counts_the_split_and_finds_a_duplicate_across_train_and_test(tmp_path):
    from shinsou.api import explore

    tree = tmp_path / "tree"
    colour_folder(tree / "train", per_class=6, size=16)
    colour_folder(tree / "test", per_class=2, size=16, seed=1)
    planted = sorted((tree / "train" / "red").glob("*.png"))[0]
    shutil.copy(planted, tree / "test" / "red" / "copy.png")
    summary = explore("transfer", out=tmp_path / "explore", data=str(tree), val_fraction=0.34)
    assert summary["kind"] == "folder" and summary["classes"] == 3
    assert (summary["train images"], summary["val images"], summary["test images"]) == (12, 6, 7)
    assert summary["most common size"] == "16x16" and summary["unreadable files"] == 0
    assert summary["test images also in train"] + summary["test images also in validation"] == 1
    assert Path(summary["report"]).exists() and (tmp_path / "explore" / "figures" / "samples.png").exists()


def test_the_run_rebuilds_through_the_models_registry(run):
    from shinsou.engine.runs import load_run_model

    model, config = load_run_model(run)
    assert config["pipeline"] == "transfer" and config["model"] == "efficientnet_lite0"
    assert model.head.out_features == 3 and model.input_size == (3, 32, 32)


def test_explain_can_build_vgg16_with_the_lecture_recipe():
    from shinsou.models import build_model

    with torch.device("meta"):  # shapes and requires_grad without VGG16's seconds of initialisation
        model = build_model("vgg16", image_size=32)  # the default freeze is the lecture's
        output = model(torch.zeros(1, 3, 32, 32))
    trains = {u.name: model.get_submodule(u.paths[0]).weight.requires_grad for u in model.units}
    assert [name for name, t in trains.items() if t] == ["conv5_2", "conv5_3", "fc6", "fc7", "fc8"]
    assert model.input_size == (3, 32, 32) and output.shape == (1, 1000)


def bad_weights(path: Path) -> Path:
    import torchvision.models as tvm

    with torch.device("meta"):
        shapes = {k: v.shape for k, v in tvm.mobilenet_v3_small().state_dict().items()}
    torch.save({("stem.0.weight" if k == "features.0.0.weight" else k): torch.zeros(s) for k, s in shapes.items()}, path)
    return path


@pytest.mark.parametrize("case", ["empty", "one", "corrupt", "keys", "freeze", "backbone", "weights"])
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, cli):
    data = colour_folder(tmp_path / "data", per_class=4, size=8)
    args = ["--backbone", "mobilenet_v3_small", "--weights", "none", "--image-size", "32", "--epochs", "1",
            "--val-fraction", "0.25", "--out", str(tmp_path / "run")]
    if case == "empty":
        for f in (data / "green").iterdir():
            f.unlink()
        expected = f"{data}/green: empty class folder (no JPEG/PNG/TIFF images)"
    elif case == "one":
        data = tmp_path / "single"
        (data / "cats").mkdir(parents=True)
        expected = (f"{data}: only one class folder ('cats'); a classifier needs at least two "
                    "(point --data at the folder that holds the class folders)")
    elif case == "corrupt":
        for f in (data / "red").iterdir():  # every file of the class is broken, so every split meets one
            f.write_bytes(b"GIF89a broken")
        args.append("--strict")
        expected = None
    elif case == "keys":
        path = bad_weights(tmp_path / "mnv3.pth")
        args[3] = str(path)
        expected = f"{path}: weights do not fit mobilenet_v3_small: missing 'features.0.0.weight'; unexpected 'stem.0.weight'"
    elif case == "freeze":
        args += ["--freeze-until", "features.99"]
        expected = ("--freeze-until 'features.99' names no layer of mobilenet_v3_small (layers: features.0, features.1, "
                    "features.2, features.3, features.4, features.5, features.6, features.7, features.8, features.9, "
                    "features.10, features.11, features.12, classifier.0, head)")
    elif case == "backbone":
        args[1] = "vgg19"
        expected = ("unknown backbone 'vgg19' (known: efficientnet_b0, efficientnet_lite0, mobilenet_v3_small, "
                    "resnet18, resnet50, vgg16, vgg16_bn)")
    else:
        args[3] = str(tmp_path / "absent.pth")
        expected = f"{tmp_path / 'absent.pth'}: no such weights file (--weights takes imagenet, none or a state_dict file)"
    code, out, err = cli("train", "transfer", "--data", data, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    if case == "corrupt":
        assert lines[0].startswith(f"error: {data}/red/") and lines[0].endswith(
            ".png: corrupt image, cannot be decoded (UnidentifiedImageError); without --strict it would be skipped")
    else:
        assert lines[0] == f"error: {expected}"


def test_a_run_stopped_in_its_second_stage_resumes_to_the_same_result(tmp_path, monkeypatch):
    import shinsou.engine.trainer as trainer
    from shinsou.api import train

    data = colour_folder(tmp_path / "data", per_class=8, size=16)
    options = dict(data=str(data), backbone="efficientnet_lite0", image_size=32, epochs=2, stage2_epochs=2,
                   batch_size=6, lr=0.003, val_fraction=0.25, log=lambda line: None)
    whole = train("transfer", out=str(tmp_path / "whole"), **options).metrics
    real, calls = trainer.train_one_epoch, []

    def stopped_in_stage_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # stage 2's second epoch
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_one_epoch", stopped_in_stage_two)
    with pytest.raises(KeyboardInterrupt):
        train("transfer", out=str(tmp_path / "stopped"), **options)
    assert json.loads((tmp_path / "stopped" / "run.json").read_text())["status"] == "interrupted"
    monkeypatch.setattr(trainer, "train_one_epoch", real)
    resumed = train("transfer", resume=str(tmp_path / "stopped"), log=lambda line: None).metrics
    assert (resumed["accuracy"], resumed["loss"]) == (whole["accuracy"], whole["loss"])
    assert resumed["stage2_freeze"]["frozen_params"] == 0


def test_evaluation_one_batch_per_thread_matches_one_thread(run, monkeypatch):
    import shinsou
    import shinsou.transfer.predictor as module
    from shinsou.transfer.predictor import batch_parallel

    monkeypatch.setattr(module, "EVAL_PIXELS", 2 * 32 * 32)  # six batches of two test images
    predictor = shinsou.load(run)
    alone = predictor.evaluate()
    torch.set_num_threads(2)  # two workers, each computing whole batches with one thread
    try:
        assert list(batch_parallel(lambda i: (i, torch.get_num_threads()), iter(range(9)))) == [(i, 1) for i in range(9)]
        assert torch.get_num_threads() == 2  # given back afterwards
        shared = predictor.evaluate()
    finally:
        torch.set_num_threads(1)
    assert shared["confusion_matrix"] == alone["confusion_matrix"] and shared["loss"] == pytest.approx(alone["loss"])
