"""Segmentation data: the palette round trip, classes.json, masks as indices or colours, paired transforms that
keep masks nearest-neighbour, median-frequency weights and the metrics against hand-computed confusion matrices."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from shinsou.engine.metrics import ConfusionMatrix
from shinsou.errors import DataError
from shinsou.segnet.data import load_segmentation_data, median_frequency_weights, read_mask
from shinsou.segnet.palette import CAMVID, CAMVID_CLASSES, read_classes_json
from shinsou.segnet.transforms import paired_crop_flip, paired_geometry


def test_camvid_palette_round_trip_is_exact():
    colours = CAMVID.colour_table()  # 11 classes + Void
    assert colours.shape == (12, 3)
    assert [tuple(c) for c in colours[:11]] == list(CAMVID_CLASSES.values())
    rng = np.random.default_rng(0)
    index = rng.integers(0, 12, (17, 23)).astype(np.uint8)  # every class and Void
    rgb = CAMVID.decode(index)
    assert rgb.dtype == np.uint8 and rgb.shape == (17, 23, 3)
    assert np.array_equal(CAMVID.encode(rgb), index)  # colour -> index -> colour -> index
    assert np.array_equal(CAMVID.decode(CAMVID.encode(rgb)), rgb)
    assert CAMVID.encode(np.array([[[128, 64, 128]]], np.uint8))[0, 0] == CAMVID.names.index("Road") == 3


def test_unknown_colour_names_colour_pixel_and_file():
    rgb = CAMVID.decode(np.zeros((4, 5), np.uint8))
    rgb[2, 3] = (1, 2, 3)
    with pytest.raises(DataError) as e:
        CAMVID.encode(rgb, "m.png")
    assert str(e.value) == ("m.png: colour (1, 2, 3) at pixel (x=3, y=2) is not in the palette (CamVid 11 classes + Void; "
                            "other class sets need a classes.json)")


def test_index_masks_void_and_out_of_range():
    mask = np.array([[0, 10, 11, 255]])
    assert CAMVID.check_indices(mask).tolist() == [[0, 10, 11, 11]]  # 11 and 255 are both Void
    with pytest.raises(DataError) as e:
        CAMVID.check_indices(np.array([[0, 12]]), "a.png")
    assert str(e.value) == "a.png: class index 12 at pixel (x=1, y=0) is beyond the class list (0..10 are classes, 11 and 255 are Void)"


def test_classes_json_palette(tmp_path):
    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"background": [0, 0, 0], "lesion": "#ff0000", "Void": [255, 255, 255]}))
    palette = read_classes_json(path)
    assert palette.names == ("background", "lesion") and palette.void_index == 2
    rgb = np.array([[[0, 0, 0], [255, 0, 0], [255, 255, 255]]], np.uint8)
    assert palette.encode(rgb).tolist() == [[0, 1, 2]]
    assert np.array_equal(palette.decode(palette.encode(rgb)), rgb)
    path.write_text(json.dumps({"a": [0, 0, 300]}))
    with pytest.raises(DataError, match=r"colour of 'a' must be \[r, g, b\] with 0..255 or '#rrggbb', got \[0, 0, 300\]"):
        read_classes_json(path)


def test_masks_as_indices_or_colours_read_the_same(tmp_path):
    index = np.array([[0, 3, 8], [11, 5, 10]], np.uint8)
    Image.fromarray(index, "L").save(tmp_path / "index.png")
    Image.fromarray(CAMVID.decode(index)).save(tmp_path / "colour.png")
    assert np.array_equal(read_mask(tmp_path / "index.png", CAMVID), index)
    assert np.array_equal(read_mask(tmp_path / "colour.png", CAMVID), index)


def test_paired_geometry_moves_image_and_mask_together():
    generator = torch.Generator().manual_seed(0)
    masks = torch.zeros(6, 24, 32, dtype=torch.long)
    masks[:, :12, :] = 1  # four big blocks of classes 1..4
    masks[:, 12:, :16] = 2
    masks[:, 12:, 16:] = 3
    masks[:, 4:10, 20:28] = 4
    x = masks.unsqueeze(1).float()  # the image is the mask itself, sampled bilinearly
    out_x, out_masks = paired_geometry(x, masks, generator, void_index=11, scale=(0.7, 1.4))
    assert set(out_masks.unique().tolist()) <= {1, 2, 3, 4, 11}  # nearest neighbour only: no in-between labels
    inside = out_masks != 11
    settled = inside & ((out_x[:, 0] - out_x[:, 0].round()).abs() < 1e-4)  # pixels away from any edge
    agree = (out_x[:, 0].round().long() == out_masks)[settled].float().mean()
    assert agree > 0.97
    crop_x, cropped = paired_geometry(x, masks, generator, void_index=11, crop=(16, 24))  # a smaller random window
    assert crop_x.shape == (6, 1, 16, 24) and cropped.shape == (6, 16, 24)
    settled = (cropped != 11) & ((crop_x[:, 0] - crop_x[:, 0].round()).abs() < 1e-4)
    assert (crop_x[:, 0].round().long() == cropped)[settled].float().mean() > 0.97
    flipped_x, flipped = paired_geometry(x, masks, torch.Generator().manual_seed(1), 11, scale=(1.0, 1.0))
    for i in range(6):  # no scale, no shift: each pair is either unchanged or mirrored, both the same way
        same = torch.equal(flipped[i], masks[i])
        assert same or torch.equal(flipped[i], masks[i].flip(-1))
        assert torch.allclose(flipped_x[i, 0], (masks[i] if same else masks[i].flip(-1)).float(), atol=1e-5)


def test_whole_pixel_crops_keep_pixels_and_pair_them():
    """--scale 1: windows cut at whole pixels (no resampling), image and mask cut and mirrored alike."""
    masks = torch.randint(0, 11, (5, 24, 32))
    x = torch.stack([masks * 10, masks * 10 + 1, masks * 10 + 2], 1).float()  # each channel encodes the label
    out_x, out_masks = paired_crop_flip(x, masks, torch.Generator().manual_seed(0), crop=(16, 20))
    assert out_x.shape == (5, 3, 16, 20) and out_masks.shape == (5, 16, 20)
    assert torch.equal(out_x[:, 0].long(), out_masks * 10) and torch.equal(out_x[:, 2].long(), out_masks * 10 + 2)
    for i in range(5):  # each window is a block of the original, mirrored or not
        found = any(torch.equal(out_masks[i], candidate[top:top + 16, left:left + 20])
                    for candidate in (masks[i], masks[i].flip(-1)) for top in range(9) for left in range(13))
        assert found


def test_median_frequency_weights_by_hand():
    # image 1: 3 px of class 0, 1 px of class 1; image 2: 4 px of class 0 (class 2 absent, Void = 3 ignored)
    masks = np.array([[[0, 0], [0, 1]], [[0, 0], [0, 3]]], np.uint8)
    # freq0 = 6 / 8 (both images), freq1 = 1 / 4 (image 1 only); median of (0.75, 0.25) = 0.5
    assert np.allclose(median_frequency_weights(masks, 3), [0.5 / 0.75, 0.5 / 0.25, 1.0])


def test_confusion_matrix_metrics_against_hand_computation():
    metric = ConfusionMatrix(3, ignore_index=3)
    targets = torch.tensor([[0, 0, 1, 1, 2, 3]])
    preds = torch.tensor([[0, 1, 1, 1, 0, 2]])  # the last pixel is Void: not counted
    logits = torch.nn.functional.one_hot(preds, 3).permute(0, 2, 1).float()  # (1, 3, 6) scores
    metric.update(logits[:, :, :3], targets[:, :3])  # two batches: counts accumulate
    metric.update(logits[:, :, 3:], targets[:, 3:])
    result = metric.compute()
    # rows true, columns predicted: class 0 -> {0: 1, 1: 1}; class 1 -> {1: 2}; class 2 -> {0: 1}
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert result["n"] == 5
    assert result["accuracy"] == pytest.approx(3 / 5)  # global accuracy
    assert result["class_accuracy"] == pytest.approx((1 / 2 + 2 / 2 + 0 / 1) / 3)
    iou = [1 / (2 + 2 - 1), 2 / (2 + 3 - 2), 0 / (1 + 0 - 0)]  # TP / (true + predicted - TP)
    assert result["per_class"]["iou"] == pytest.approx(iou)
    assert result["mean_iou"] == pytest.approx(sum(iou) / 3)
    # accumulated over the set, not averaged per batch: batch 2 alone would have mIoU 2/3 (class 1 2/2, class 2 0/1)


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_images_and_labels_layout_split_70_15_15(tmp_path):
    for i in range(10):
        write_png(tmp_path / "images" / f"{i}.png", np.full((20, 24, 3), i * 20, np.uint8))
        write_png(tmp_path / "labels" / f"{i}.png", np.full((20, 24), i % 11, np.uint8))
    data = load_segmentation_data(tmp_path, size=(16, 16), seed=0)
    assert data.layout == "images+labels"
    assert (len(data.train), len(data.val), len(data.test)) == (7, 1, 2)  # test round(1.5), val round(0.15/0.85*8)
    files = data.train.files + data.val.files + data.test.files
    assert sorted(files) == sorted(str(tmp_path / "images" / f"{i}.png") for i in range(10))
    assert data.train.images.shape[1:] == (16, 16, 3) and data.train.masks.shape[1:] == (16, 16)


def test_scene_difficulty_statistics_by_hand():
    """Pixel shares, images holding a class, object sizes (8-connected) and boundary pixels of two tiny masks."""
    from shinsou.segnet.difficulty import boundary_share, class_statistics

    masks = np.zeros((2, 4, 4), dtype=np.uint8)
    masks[0, 0, 0] = masks[0, 1, 1] = 1  # one diagonal object of 2 px (8-connected)
    masks[1, 3, 3] = 1  # one object of 1 px
    rows = class_statistics(masks, ["a", "b"])
    assert rows[1] == {"class": "b", "pixel_share": 3 / 32, "images_with": 1.0, "median_object_px": 1.5,
                       "small_objects": 1.0}
    assert rows[0]["pixel_share"] == 29 / 32 and rows[0]["median_object_px"] == 14.5  # objects of 14 and 15 px
    expected = np.zeros((2, 4, 4), dtype=bool)
    expected[0, 0, :2] = expected[0, :2, 0] = True  # (0,0) differs from its right and lower neighbours
    expected[0, 1, :3] = expected[0, :3, 1] = True  # (1,1) likewise, and its left and upper neighbours
    expected[1, 3, 2:] = expected[1, 2:, 3] = True
    assert boundary_share(masks) == expected.mean()
