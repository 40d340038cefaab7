"""`shinsou explain features`: one PNG panel per channel of every conv/pool map, the first layer's filters,
and Grad-CAM equal to a by-hand computation; inputs are read as `shinsou predict` reads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shinsou.engine.checkpoint import save_weights
from shinsou.engine.config import write_yaml_atomic
from shinsou.explain.features import forward_with_maps, grad_cam
from shinsou.formats.idx import read_idx
from shinsou.models import build_model

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "shinsou" / "sample_data" / "mnist" / "t10k-images-idx3-ubyte.gz"


def make_run(run_dir: Path, model_name: str = "lenet-caffe", seed: int = 0) -> Path:
    """A run directory as `shinsou train mnist` leaves it (untrained weights: shapes and wiring are what count)."""
    torch.manual_seed(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_weights(build_model(model_name), run_dir / "best.safetensors")
    write_yaml_atomic(run_dir / "config.yaml", {
        "pipeline": "mnist", "model": model_name, "model_options": {"num_classes": 10, "in_channels": 1},
        "class_names": [str(i) for i in range(10)]})
    return run_dir


@pytest.fixture
def digit(tmp_path) -> Path:
    image = np.asarray(read_idx(SAMPLE))[0]  # a 7
    path = tmp_path / "seven.png"
    Image.fromarray(image).save(path)
    return path


def test_one_panel_per_channel_filters_and_gradcam(tmp_path, digit, cli):
    run = make_run(tmp_path / "run")
    code, out, err = cli("explain", "features", run, digit, "--out", tmp_path / "pics", "--json")
    assert code == 0, err
    result = json.loads(out)
    maps = result["feature_maps"]
    assert [(m["layer"], m["type"], m["shape"]) for m in maps] == [
        ("conv.0", "Conv2d", [1, 20, 24, 24]), ("conv.1", "MaxPool2d", [1, 20, 12, 12]),
        ("conv.2", "Conv2d", [1, 50, 8, 8]), ("conv.3", "MaxPool2d", [1, 50, 4, 4])]
    for m in maps:
        assert m["panels"] == m["channels"] == m["shape"][1]
        assert Image.open(m["file"]).size[0] > 100
    assert result["filters"] == {"layer": "conv.0", "count": 20, "shape": [20, 1, 5, 5],
                                 "file": str(tmp_path / "pics" / "filters_conv.0.png")}
    assert result["gradcam"]["layer"] == "conv.2"
    assert Path(result["gradcam"]["file"]).is_file()

    # the prediction is the one `shinsou predict` gives for the same file
    code, out, _ = cli("predict", run, digit, "--json")
    predicted = json.loads(out)[0]
    assert result["class"] == predicted["class"]
    assert result["probability"] == pytest.approx(predicted["probability"], abs=1e-6)


def test_gradcam_equals_the_by_hand_computation():
    torch.manual_seed(1)
    model = build_model("lenet-caffe").eval()
    x = torch.randn(1, 1, 28, 28)
    logits, captured = forward_with_maps(model, x)
    last = [c for c in captured if c.type == "Conv2d"][-1]
    assert last.name == "conv.2"
    cam = grad_cam(logits, last.output, 3, (28, 28))

    # by hand: split the network at conv.2's output and differentiate the class-3 score
    a = model.conv[:3](x).detach().requires_grad_(True)  # (1, 50, 8, 8)
    score = model.head(model.act(model.hidden(torch.flatten(model.conv[3:](a), 1))))[0, 3]
    (grad,) = torch.autograd.grad(score, a)
    weights = grad.mean(dim=(2, 3), keepdim=True)  # (1, 50, 1, 1)
    expected = torch.relu((weights * a).sum(1, keepdim=True))
    expected = torch.nn.functional.interpolate(expected, (28, 28), mode="bilinear", align_corners=False)[0, 0]
    expected = (expected / expected.max()).detach().numpy()
    assert cam.shape == (28, 28)
    assert np.allclose(cam, expected, atol=1e-5)
    assert logits[0].tolist() == pytest.approx(model(x)[0].tolist(), abs=1e-5)  # hooks change nothing


def test_lenet5_idx_input_target_and_max_channels(tmp_path, cli):
    run = make_run(tmp_path / "run5", "lenet5")
    code, out, err = cli("explain", "features", run, SAMPLE, "--index", "3", "--target", "8",
                         "--max-channels", "4", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["input"].endswith("[3]")
    assert result["gradcam"]["target"] == "8"
    assert [m["shape"][-1] for m in result["feature_maps"]] == [28, 14, 10, 5]  # 32 -> 28 -> 14 -> 10 -> 5
    assert [m["panels"] for m in result["feature_maps"]] == [4, 4, 4, 4]
    assert Path(result["out"]) == run / "explain" / f"{SAMPLE.name}_3"
    code, out, err = cli("explain", "features", run, SAMPLE, "--index", "3", "--max-channels", "2")
    assert code == 0, err
    assert "written to" in out and "gradcam.png" in out


@pytest.mark.parametrize("what,message", [
    ("unreadable", "{image}: cannot be read as an image (UnidentifiedImageError)"),
    ("missing", "{image}: no such file"),
    ("target", "--target 'cat': not a class of this run (classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)"),
    ("index", "--index 500: {image} holds 500 image(s) (0..499)"),
    ("not-a-run", "{run}: not a run directory (no config.yaml; train one with `shinsou train ...`)"),
])
def test_bad_inputs_exit_2(tmp_path, digit, cli, what, message):
    run = make_run(tmp_path / "run") if what != "not-a-run" else tmp_path
    image = {"unreadable": tmp_path / "broken.png", "missing": tmp_path / "none.png", "index": SAMPLE}.get(what, digit)
    (tmp_path / "broken.png").write_text("not a picture")
    extra = {"target": ["--target", "cat"], "index": ["--index", "500"]}.get(what, [])
    code, out, err = cli("explain", "features", run, image, *extra)
    assert code == 2
    assert err.strip() == "error: " + message.format(image=image, run=run)
