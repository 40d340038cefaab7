"""`shinsou train segnet`, `evaluate`, `predict`, `explore` and `data make-scenes` end to end, and the Python API
(`shinsou.api.load(run).predict/evaluate`): a hand-written CamVid-layout folder (colour masks in the CamVid palette,
not from the generator) trains, learns and evaluates; each bad input is one line, exit 2."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import yaml
from PIL import Image

from shinsou.errors import ConfigError, DataError
from shinsou.segnet.data import load_segmentation_data
from shinsou.segnet.palette import CAMVID, CAMVID_CLASSES, VOID_COLOUR

H, W = 32, 48
LOOKS = {"Sky": (150, 190, 230), "Building": (120, 70, 50), "Tree": (40, 110, 40), "Road": (70, 70, 75),
         "Pavement": (170, 165, 150), "Car": (200, 30, 30)}


def hand_scene(v: int) -> tuple[np.ndarray, np.ndarray]:
    """A drawn-by-hand street: sky, a building and a tree, road with a pavement, a red car; Void in one corner."""
    image, mask = np.zeros((H, W, 3), np.uint8), np.zeros((H, W, 3), np.uint8)

    def put(rows, cols, name):
        image[rows, cols] = LOOKS[name]
        mask[rows, cols] = CAMVID_CLASSES[name]

    put(slice(0, 12), slice(0, W), "Sky")
    put(slice(8 + v % 3, 22), slice(0, 30), "Building")
    put(slice(6, 22), slice(30, W), "Tree")
    put(slice(22, H), slice(0, W), "Road")
    put(slice(22, H), slice(0, 8 + v), "Pavement")
    put(slice(17 + v % 2, 27), slice(14 + 2 * v, 28 + 2 * v), "Car")
    image[0:2, 0:2], mask[0:2, 0:2] = (250, 0, 250), VOID_COLOUR
    noise = np.random.default_rng(v).integers(-6, 7, image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8), mask


def write_camvid(root, counts=(("train", 4), ("val", 1), ("test", 1))):
    v = 0
    for split, n in counts:
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        for _ in range(n):
            image, mask = hand_scene(v)
            Image.fromarray(image).save(root / split / f"0001TP_{v:04d}.png")
            Image.fromarray(mask).save(root / f"{split}annot" / f"0001TP_{v:04d}.png")
            v += 1
    return root


@pytest.fixture(autouse=True)
def fresh_run_dir():
    """prepare_run_dir remembers its run directory in SHINSOU_RUN_DIR (for DDP workers); each in-process run here is new."""
    os.environ.pop("SHINSOU_RUN_DIR", None)
    yield
    os.environ.pop("SHINSOU_RUN_DIR", None)


@pytest.fixture
def camvid(tmp_path):
    return write_camvid(tmp_path / "CamVid")


def one_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One run on the hand-written folder, shared by the tests that need a trained model."""
    from shinsou.cli import main

    root = tmp_path_factory.mktemp("segnet")
    camvid, run = write_camvid(root / "CamVid"), root / "run"
    os.environ.pop("SHINSOU_RUN_DIR", None)
    assert main(["train", "segnet", "--data", str(camvid), "--fast", "--epochs", "6", "--batch-size", "2",
                 "--out", str(run)]) == 0
    os.environ.pop("SHINSOU_RUN_DIR", None)
    return camvid, run


def test_hand_written_camvid_trains_learns_and_evaluates(cli, trained):
    camvid, run = trained
    trained = json.loads((run / "metrics.json").read_text())
    assert trained["n"] == H * W - 4  # every pixel of the one test image but the 2x2 Void corner
    # learned: the commonest class (Sky) covers 26% of the test image's labelled pixels; six epochs label far more
    assert trained["accuracy"] > 0.4 and trained["mean_iou"] > 0.2
    assert set(trained["per_class_iou"]) == set(CAMVID_CLASSES)
    assert trained["tta"] == "flip" and 0 <= trained["single_pass"]["mean_iou"] <= 1  # both figures are kept
    assert set(trained["timing"]) == {"wall_s", "cpu_s"}
    assert (run / "report.html").exists() and (run / "figures" / "predictions.png").exists()
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["pipeline"] == "segnet" and config["fast"] is True and config["crop"] == "none"
    assert config["class_names"] == list(CAMVID_CLASSES) and len(config["class_weights"]) == 11

    code, out, err = cli("evaluate", run, "--json")
    assert code == 0, err
    evaluated = json.loads(out)
    assert evaluated["confusion_matrix"] == trained["confusion_matrix"]  # the same model on the same test split
    assert evaluated["mean_iou"] == pytest.approx(trained["mean_iou"])
    assert evaluated["per_class"]["iou"] == trained["per_class"]["iou"]
    code, out, err = cli("evaluate", run, "--images", camvid / "val", "--labels", camvid / "valannot", "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == H * W - 4 and json.loads(out)["source"] == "val"


def test_predict_writes_class_maps_at_the_inputs_size(cli, trained, tmp_path):
    camvid, run = trained
    big = tmp_path / "big.png"  # another size: the label map must come back at the input's size
    Image.fromarray(np.asarray(Image.fromarray(hand_scene(9)[0]).resize((60, 40)))).save(big)
    code, out, err = cli("predict", run, camvid / "test" / "0001TP_0005.png", big, "--out", tmp_path / "pred", "--json")
    assert code == 0, err
    results = json.loads(out)
    assert [r["input"] for r in results] == [str(camvid / "test" / "0001TP_0005.png"), str(big)]
    for r, size in zip(results, ((H, W), (40, 60))):
        assert r["class_map_shape"] == list(size) and sum(r["pixels"].values()) == size[0] * size[1]
        assert r["commonest"] in CAMVID_CLASSES and r["share"] == max(r["pixels"].values()) / (size[0] * size[1])
        with Image.open(r["class_map_png"]) as picture:
            assert picture.size == (size[1], size[0]) and picture.mode == "RGB"
            colours = {tuple(c) for c in np.asarray(picture).reshape(-1, 3)}
        assert colours <= set(CAMVID_CLASSES.values())  # every colour of the label map is a class colour


def test_predictor_takes_paths_pil_images_bytes_and_arrays(trained):
    """shinsou.api.load(run): one class map per image whatever form it comes in, rendered in the palette."""
    import io

    from shinsou.api import load

    camvid, run = trained
    path = camvid / "test" / "0001TP_0005.png"
    predictor = load(run)
    with Image.open(path) as image:
        pil = image.convert("RGB")
    pixels = np.asarray(pil)
    records = predictor.predict([str(path), pil, path.read_bytes(), pixels, np.stack([pixels, pixels])])
    assert [r["input"] for r in records] == [str(path), "#1", "#2", "#3", "#4[0]", "#4[1]"]
    for r in records:
        assert r["class_map"].shape == (H, W) and r["class_map"].max() < 11
        assert np.array_equal(r["class_map"], records[0]["class_map"])
    assert predictor.predict(pixels)[0]["input"] == "#0"  # a lone array is one input
    with Image.open(camvid / "testannot" / "0001TP_0005.png") as mask:
        truth = CAMVID.encode(np.asarray(mask))
    labelled = truth < 11
    assert (records[0]["class_map"] == truth)[labelled].mean() > 0.4  # as the test metrics say
    rendered = predictor.render(records[0]["class_map"])
    assert rendered.mode == "RGB" and np.array_equal(CAMVID.encode(np.asarray(rendered)), records[0]["class_map"])
    plain = predictor.predict(pixels, tta=False)[0]["class_map"]
    assert plain.shape == (H, W)

    x, name = predictor.explain_input(str(path))
    assert x.shape == (1, 3, H, W) and name == str(path)
    assert predictor.model(x).shape == (1, 11, H, W)
    assert predictor.predict(predictor.example_input())[0]["class_map"].shape == (H, W)
    with pytest.raises(DataError, match=r"#0: image arrays must be uint8 \(0..255\), got float64"):
        predictor.predict(np.zeros((H, W, 3)))
    with pytest.raises(ConfigError, match=r"--index 2: #0 holds 2 image\(s\) \(0..1\)"):
        predictor.explain_input(np.stack([pixels, pixels]), index=2)
    assert load(run).evaluate()["confusion_matrix"] == json.loads((run / "metrics.json").read_text())["confusion_matrix"]
    with pytest.raises(DataError, match="--images DIR and --labels DIR go together"):
        predictor.evaluate(images=str(camvid / "val"))


def test_loading_a_run_imports_no_training_code(trained):
    import subprocess
    import sys

    _, run = trained
    code = (f"import sys, shinsou; shinsou.load({str(run)!r}); bad = [m for m in ('matplotlib', 'lightning_fabric', "
            "'shinsou.segnet.train', 'shinsou.engine.trainer') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_defaults_are_the_recipe_and_fast_the_quick_settings(cli, tmp_path):
    """No option: the README's recipe; --fast: the quick settings, but only for options left at their defaults."""
    from shinsou.api import make_config
    from shinsou.engine.config import resumed_config, save_run_config
    from shinsou.segnet.config import Config

    recipe = make_config("segnet")
    assert (recipe.model, recipe.epochs, recipe.val_every, recipe.batch_size, recipe.crop, recipe.scale,
            recipe.class_balance, recipe.scenes, recipe.precision) == ("segnet-basic", 60, 5, 4, "64x96", "1", "sqrt",
                                                                       400, "auto")
    fast = make_config("segnet", fast=True)
    assert (fast.epochs, fast.val_every, fast.batch_size, fast.crop, fast.scale, fast.class_balance, fast.scenes) == \
        (12, 1, 8, "none", "0.8-1.25", "median", 80)
    given = make_config("segnet", fast=True, epochs=60, class_balance="sqrt")  # given values win, even the recipe's
    assert (given.epochs, given.class_balance, given.batch_size) == (60, "sqrt", 8)
    yaml_file = tmp_path / "fast.yaml"
    yaml_file.write_text("fast: true\nbatch_size: 4\n")
    assert (make_config("segnet", yaml_file).batch_size, make_config("segnet", yaml_file).epochs) == (4, 12)
    save_run_config(tmp_path, given, pipeline="segnet")  # --resume rebuilds the config the run started with
    assert resumed_config(Config, tmp_path) == given
    assert make_config("segnet", precision="32-true").precision == "32-true"

    code, out, _ = cli("train", "segnet", "--help")
    assert code == 0
    text = " ".join(out.replace("│", " ").split())
    assert "(default: 60; --fast: 12)" in text and "(default: 64x96; --fast: none)" in text


def test_explore_shows_class_shares_and_duplicates(cli, camvid, tmp_path):
    import shutil

    for folder in ("test", "testannot"):  # a training image copied into the test split under another name
        shutil.copy(camvid / folder.replace("test", "train") / "0001TP_0000.png", camvid / folder / "copy.png")
    code, out, err = cli("explore", "segnet", "--data", camvid, "--out", tmp_path / "explore", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["train images"], summary["val images"], summary["test images"]) == (4, 1, 2)
    assert summary["test images also in train"] == 1 and summary["val images also in train"] == 0
    assert summary["file sizes (HxW)"] == f"{H}x{W} (7)" and summary["layout"] == "camvid"
    assert summary["Void share of train pixels"] == round(4 / (H * W), 4)  # the 2x2 corner of every scene
    assert (tmp_path / "explore" / "explore.html").exists() and (tmp_path / "explore" / "figures" / "samples.png").exists()


def test_default_data_is_generated_scenes(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SHINSOU_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    code, out, err = cli("train", "segnet", "--fast", "--scenes", "4", "--size", "32x48", "--epochs", "1", "--out", run,
                         "--json")
    assert code == 0, err
    assert "no --data: using 4 generated road scenes of 32x48" in err
    assert (tmp_path / "cache" / "scenes-v6-4-32x48-seed0" / "testannot").is_dir()
    assert json.loads(out)["metrics"]["n"] > 0
    code, out, err = cli("evaluate", run, "--json")  # the run remembers where its generated data is
    assert code == 0, err


def test_weights_file_initialises_segnet_through_the_cli(cli, camvid, tmp_path):
    import torch
    import torchvision

    vgg = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"], batch_norm=True)  # = vgg16_bn.features
    weights = tmp_path / "vgg16_bn_features.pth"
    torch.save({f"features.{k}": v for k, v in vgg.state_dict().items()}, weights)
    run = tmp_path / "run"
    code, out, err = cli("train", "segnet", "--data", camvid, "--model", "segnet", "--weights", weights, "--fast",
                         "--epochs", "1", "--batch-size", "4", "--out", run, "--json")
    assert code == 0, err
    config = (run / "config.yaml").read_text()
    assert f"encoder_weights: {weights}" in config and "parameters: 294" in config


def test_make_scenes_writes_the_camvid_layout(cli, tmp_path):
    code, out, err = cli("data", "make-scenes", "--out", tmp_path / "a", "--n", "3", "--size", "32x48", "--seed", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["train"] == 3
    for split, n in (("train", 3), ("val", 1), ("test", 1)):
        assert len(list((tmp_path / "a" / split).glob("*.png"))) == n
        assert len(list((tmp_path / "a" / f"{split}annot").glob("*.png"))) == n
    with Image.open(tmp_path / "a" / "trainannot" / "scene_00000.png") as mask:
        assert mask.mode == "L" and mask.size == (48, 32) and np.asarray(mask).max() <= 11
    code, _, err = cli("data", "make-scenes", "--out", tmp_path / "b", "--n", "3", "--size", "32x48", "--seed", "1",
                       "--masks", "colour")
    assert code == 0, err
    a, b = load_segmentation_data(tmp_path / "a"), load_segmentation_data(tmp_path / "b")
    assert np.array_equal(a.train.images, b.train.images)  # the same seed draws the same scenes
    assert np.array_equal(a.train.masks, b.train.masks)  # colour masks read back to the same classes
    assert np.array_equal(a.test.masks, b.test.masks)


# -- bad input: one line naming the file and what is wrong, exit status 2 -----------------------------------------------------
def train_error(cli, data, tmp_path) -> tuple[int, str]:
    code, _, err = cli("train", "segnet", "--data", data, "--fast", "--epochs", "1", "--out", tmp_path / "run")
    return code, one_error(err)


def test_image_and_mask_of_different_sizes(cli, camvid, tmp_path):
    mask = camvid / "trainannot" / "0001TP_0001.png"
    Image.fromarray(hand_scene(1)[1][:, :40]).save(mask)
    code, line = train_error(cli, camvid, tmp_path)
    assert code == 2
    assert line == f"error: {mask}: mask is 32x40 but its image {camvid / 'train' / '0001TP_0001.png'} is 32x48 (HxW)"


def test_mask_colour_not_in_the_palette(cli, camvid, tmp_path):
    mask = camvid / "trainannot" / "0001TP_0002.png"
    rgb = hand_scene(2)[1]
    rgb[7, 5] = (1, 2, 3)
    Image.fromarray(rgb).save(mask)
    code, line = train_error(cli, camvid, tmp_path)
    assert code == 2
    assert line == (f"error: {mask}: colour (1, 2, 3) at pixel (x=5, y=7) is not in the palette "
                    f"(CamVid 11 classes + Void; other class sets need a classes.json)")


def test_image_without_a_mask(cli, camvid, tmp_path):
    (camvid / "trainannot" / "0001TP_0003.png").unlink()
    code, line = train_error(cli, camvid, tmp_path)
    assert code == 2
    assert line == (f"error: {camvid / 'train' / '0001TP_0003.png'}: no mask for this image "
                    f"(expected {camvid / 'trainannot' / '0001TP_0003.png'})")


def test_class_index_beyond_the_class_list(cli, camvid, tmp_path):
    mask = camvid / "valannot" / "0001TP_0004.png"
    index = np.full((H, W), 3, np.uint8)
    index[1, 2] = 14
    Image.fromarray(index, "L").save(mask)
    code, line = train_error(cli, camvid, tmp_path)
    assert code == 2
    assert line == (f"error: {mask}: class index 14 at pixel (x=2, y=1) is beyond the class list "
                    f"(0..10 are classes, 11 and 255 are Void)")


def test_unreadable_files(cli, camvid, tmp_path):
    image = camvid / "train" / "0001TP_0000.png"
    image.write_bytes(b"this is not a PNG")
    code, line = train_error(cli, camvid, tmp_path)
    assert code == 2
    assert line == f"error: {image}: cannot be read as an image (UnidentifiedImageError)"


def test_bad_flags_and_folders(cli, camvid, tmp_path, monkeypatch):
    cases = [
        (("train", "segnet", "--data", tmp_path / "nowhere"), f"error: {tmp_path / 'nowhere'}: no such folder"),
        (("train", "segnet", "--data", tmp_path), f"error: {tmp_path}: not a segmentation folder (expected train/ + "
                                                 f"trainannot/ as CamVid ships it, or images/ + labels/)"),
        (("train", "segnet", "--model", "unet"), "error: unknown model 'unet' (known: segnet-basic, segnet)"),
        (("train", "segnet", "--precision", "bf16"),
         "error: unknown precision 'bf16' (known: auto, 32-true, bf16-mixed, 16-mixed)"),
        (("train", "segnet", "--crop", "8x96"), "error: --crop 8x96 is too small for segnet-basic: 4 poolings need at least "
                                                "16 pixels a side"),
        (("train", "segnet", "--data", camvid, "--epochs", "1"),
         "error: --crop 64x96 is larger than the 32x48 training images"),
        (("train", "segnet", "--weights", "imagenet"), "error: --weights applies to segnet only (segnet-basic has no VGG16 encoder)"),
        (("train", "segnet", "--size", "96by128"), "error: size must be HEIGHTxWIDTH such as 96x128, got '96by128'"),
        (("train", "segnet", "--model", "segnet", "--size", "24x32"),
         "error: --size 24x32 is too small for segnet: 5 poolings need at least 32 pixels a side"),
        (("train", "segnet", "--scale", "1.2-0.8"),
         "error: --scale must be MIN-MAX with 0 < MIN <= MAX (e.g. 0.8-1.25) or one number, got '1.2-0.8'"),
        (("data", "make-scenes", "--out", camvid), f"error: {camvid} already exists and is not an empty folder (choose another --out)"),
    ]
    monkeypatch.chdir(tmp_path)  # a run that fails on its data leaves no run directory behind
    for args, expected in cases:
        code, _, err = cli(*args)
        assert (code, one_error(err)) == (2, expected)
    assert not any((tmp_path / "runs").iterdir())


def test_predict_unreadable_or_missing_image(cli, trained, tmp_path):
    _, run = trained
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    code, _, err = cli("predict", run, bad)
    assert (code, one_error(err)) == (2, f"error: {bad}: cannot be read as an image (UnidentifiedImageError)")
    code, _, err = cli("predict", run, tmp_path / "missing.png")
    assert (code, one_error(err)) == (2, f"error: {tmp_path / 'missing.png'}: no such file")
