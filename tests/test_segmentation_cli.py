"""`shinsou train segnet`, `evaluate`, `predict` and `data make-scenes` end to end: a hand-written CamVid-layout
folder (colour masks in the CamVid palette, not from the generator) trains and evaluates; each bad input is one line, exit 2."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from shinsou.segnet.data import load_segmentation_data
from shinsou.segnet.palette import CAMVID_CLASSES, VOID_COLOUR

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
    assert main(["train", "segnet", "--data", str(camvid), "--epochs", "1", "--batch-size", "2", "--out", str(run)]) == 0
    os.environ.pop("SHINSOU_RUN_DIR", None)
    return camvid, run


def test_hand_written_camvid_trains_evaluates_and_predicts(cli, trained, tmp_path):
    camvid, run = trained
    trained = json.loads((run / "metrics.json").read_text())
    assert trained["n"] == H * W - 4  # every pixel of the one test image but the 2x2 Void corner
    for key in ("accuracy", "class_accuracy", "mean_iou"):
        assert 0 <= trained[key] <= 1
    assert set(trained["per_class_iou"]) == set(CAMVID_CLASSES)
    assert trained["tta"] == "flip" and 0 <= trained["single_pass"]["mean_iou"] <= 1  # both figures are kept
    assert (run / "report.html").exists() and (run / "figures" / "predictions.png").exists()

    code, out, err = cli("evaluate", run, "--json")
    assert code == 0, err
    evaluated = json.loads(out)
    assert evaluated["confusion_matrix"] == trained["confusion_matrix"]  # the same model on the same test split
    assert evaluated["mean_iou"] == pytest.approx(trained["mean_iou"])
    assert evaluated["per_class"]["iou"] == trained["per_class"]["iou"]

    big = tmp_path / "big.png"  # another size: the label map must come back at the input's size
    Image.fromarray(np.asarray(Image.fromarray(hand_scene(9)[0]).resize((60, 40)))).save(big)
    code, out, err = cli("predict", run, camvid / "test" / "0001TP_0005.png", big, "--out", tmp_path / "pred", "--json")
    assert code == 0, err
    results = json.loads(out)
    assert [r["input"] for r in results] == [str(camvid / "test" / "0001TP_0005.png"), str(big)]
    for r, size in zip(results, ((H, W), (40, 60))):
        assert sum(r["fractions"].values()) == pytest.approx(1.0)
        assert r["class"] in CAMVID_CLASSES and r["probability"] == max(r["fractions"].values())
        for key in ("labels", "overlay"):
            with Image.open(r[key]) as picture:
                assert picture.size == (size[1], size[0]) and picture.mode == "RGB"
        with Image.open(r["labels"]) as picture:  # every colour of the label map is a class colour
            colours = {tuple(c) for c in np.asarray(picture).reshape(-1, 3)}
        assert colours <= set(CAMVID_CLASSES.values())


def test_default_data_is_generated_scenes(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SHINSOU_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    code, out, err = cli("train", "segnet", "--scenes", "4", "--size", "32x48", "--epochs", "1", "--out", run, "--json")
    assert code == 0, err
    assert "no --data: using 4 generated road scenes of 32x48" in err
    assert (tmp_path / "cache" / "scenes-v6-4-32x48-seed0" / "testannot").is_dir()
    assert json.loads(out)["n"] > 0
    code, out, err = cli("evaluate", run, "--json")  # the run remembers where its generated data is
    assert code == 0, err


def test_weights_file_initialises_segnet_through_the_cli(cli, camvid, tmp_path):
    import torch
    import torchvision

    vgg = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"], batch_norm=True)  # = vgg16_bn.features
    weights = tmp_path / "vgg16_bn_features.pth"
    torch.save({f"features.{k}": v for k, v in vgg.state_dict().items()}, weights)
    run = tmp_path / "run"
    code, out, err = cli("train", "segnet", "--data", camvid, "--model", "segnet", "--weights", weights, "--epochs", "1",
                         "--batch-size", "4", "--out", run, "--json")
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
    code, _, err = cli("train", "segnet", "--data", data, "--epochs", "1", "--out", tmp_path / "run")
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


def test_bad_flags_and_folders(cli, camvid, tmp_path):
    cases = [
        (("train", "segnet", "--data", tmp_path / "nowhere"), f"error: {tmp_path / 'nowhere'}: no such folder"),
        (("train", "segnet", "--data", tmp_path), f"error: {tmp_path}: not a segmentation folder (expected train/ + "
                                                 f"trainannot/ as CamVid ships it, or images/ + labels/)"),
        (("train", "segnet", "--model", "unet"), "error: unknown model 'unet' for segnet (known: segnet, segnet-basic)"),
        (("train", "segnet", "--weights", "imagenet"), "error: --weights applies to segnet only (segnet-basic has no VGG16 encoder)"),
        (("train", "segnet", "--size", "96by128"), "error: size must be HEIGHTxWIDTH such as 96x128, got '96by128'"),
        (("train", "segnet", "--model", "segnet", "--size", "24x32"),
         "error: --size 24x32 is too small for segnet: 5 poolings need at least 32 pixels a side"),
        (("train", "segnet", "--scale", "1.2-0.8"),
         "error: --scale must be MIN-MAX with 0 < MIN <= MAX (e.g. 0.8-1.25) or one number, got '1.2-0.8'"),
        (("data", "make-scenes", "--out", camvid), f"error: {camvid} already exists and is not an empty folder (choose another --out)"),
    ]
    for args, expected in cases:
        code, _, err = cli(*args)
        assert (code, one_error(err)) == (2, expected)


def test_predict_unreadable_or_missing_image(cli, trained, tmp_path):
    _, run = trained
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    code, _, err = cli("predict", run, bad)
    assert (code, one_error(err)) == (2, f"error: {bad}: cannot be read as an image (UnidentifiedImageError)")
    code, _, err = cli("predict", run, tmp_path / "missing.png")
    assert (code, one_error(err)) == (2, f"error: {tmp_path / 'missing.png'}: no such file")
