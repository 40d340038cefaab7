"""Transfer data: the ImageFolder split is stratified and repeatable, --per-class keeps K per class, grey
becomes RGB, corrupt images are named and skipped (or fail under --strict), IDX folders become 3-channel."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shinsou.errors import DataError
from shinsou.formats.idx import write_idx
from shinsou.transfer.data import SplitPlan, decode_images, load_transfer_data, plan_folder
from shinsou.transfer.transforms import eval_transform, train_transform
from shinsou.transfer.backbones import preprocess_for


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a shared 2-core machine two threads spin against each other (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_folder(root: Path, counts: dict[str, int], size: int = 8) -> Path:
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / name / f"{name}_{i}.png")
    return root


def test_split_is_stratified_disjoint_and_repeatable(tmp_path):
    root = make_folder(tmp_path / "land", {"Forest": 10, "River": 20, "SeaLake": 30})
    plan = SplitPlan(val_fraction=0.25, test_fraction=0.2, seed=3)
    split, names = plan_folder(root, plan)
    assert names == ["Forest", "River", "SeaLake"]
    # test: round(0.2 n) per class; val: round(0.25 of the rest); train: the remainder
    for s, expected in (("test", [2, 4, 6]), ("val", [2, 4, 6]), ("train", [6, 12, 18])):
        assert np.bincount(split[s][1]).tolist() == expected, s
    every = [f for s in ("train", "val", "test") for f in split[s][0]]
    assert len(every) == len(set(every)) == 60
    for s in ("train", "val", "test"):  # each file's label is its folder
        assert all(Path(f).parent.name == names[y] for f, y in zip(*split[s]))
    again, _ = plan_folder(root, plan)
    assert all(again[s][0] == split[s][0] for s in split)
    other, _ = plan_folder(root, SplitPlan(val_fraction=0.25, test_fraction=0.2, seed=4))
    assert other["test"][0] != split["test"][0]


def test_per_class_keeps_k_training_images_per_class(tmp_path):
    root = make_folder(tmp_path / "land", {"a": 10, "b": 12})
    split, _ = plan_folder(root, SplitPlan(0.1, 0.2, seed=0, per_class=3, val_per_class=1))
    assert np.bincount(split["train"][1]).tolist() == [3, 3]
    assert np.bincount(split["val"][1]).tolist() == [1, 1]
    full, _ = plan_folder(root, SplitPlan(0.1, 0.2, seed=0))
    assert set(split["train"][0]) <= set(full["train"][0])  # chosen from the training split only
    assert split["test"][0] == full["test"][0]


def test_presplit_tree_is_used_as_it_is(tmp_path):
    make_folder(tmp_path / "eurosat" / "train", {"a": 5, "b": 5})
    make_folder(tmp_path / "eurosat" / "test", {"a": 2, "b": 3})
    split, names = plan_folder(tmp_path / "eurosat", SplitPlan(0.2, 0.2, seed=0))
    assert np.bincount(split["test"][1]).tolist() == [2, 3]
    assert all("/test/" in f for f in split["test"][0])
    assert np.bincount(split["val"][1]).tolist() == [1, 1] and np.bincount(split["train"][1]).tolist() == [4, 4]


def test_grey_and_palette_images_become_rgb_and_large_ones_are_cropped(tmp_path):
    Image.fromarray(np.full((6, 6), 200, np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.arange(40 * 60, dtype=np.uint32).reshape(40, 60).astype(np.uint8)).convert("P").save(tmp_path / "p.png")
    images, ok, skipped = decode_images([str(tmp_path / "grey.png")], 16, strict=True, log=print)
    assert images.shape == (1, 3, 6, 6) and (images == 200).all()  # small and square: kept as it is
    images, ok, _ = decode_images([str(tmp_path / "p.png")], 16, strict=True, log=print)
    assert images.shape == (1, 3, 16, 16)  # 40x60 -> shorter side 16 -> centre crop 16x16


def test_corrupt_image_is_named_and_skipped_or_fails_under_strict(tmp_path):
    root = make_folder(tmp_path / "land", {"a": 5, "b": 5})
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    lines = []
    plan = SplitPlan(0.2, 0.2, seed=0)
    data = load_transfer_data(root, plan, 8, log=lines.append)
    bad = str(root / "a" / "broken.jpg")
    assert data.skipped == [bad]
    assert f"skipping corrupt image {bad} (UnidentifiedImageError)" in lines
    assert "skipped 1 corrupt image(s) (run with --strict to stop at the first)" in lines
    assert sum(len(s.labels) for s in data.splits.values()) == 10
    with pytest.raises(DataError) as e:
        load_transfer_data(root, plan, 8, strict=True, log=lines.append)
    assert str(e.value) == f"{bad}: corrupt image, cannot be decoded (UnidentifiedImageError); without --strict it would be skipped"


def test_idx_folder_grey_is_replicated_to_three_channels_and_resized(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(10), 6).astype(np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    data = load_transfer_data(tmp_path, SplitPlan(0.2, 0.2, seed=0, per_class=2), 40, log=lambda line: None)
    train, test = data.splits["train"], data.splits["test"]
    assert train.images.shape == (20, 1, 28, 28) and np.bincount(train.labels).tolist() == [2] * 10
    assert len(test.labels) == 10 * round(0.2 * 6)  # no t10k files: a held-out stratified 20%
    p = preprocess_for("resnet18")
    x = eval_transform(p, 40)(train.images[:3])
    assert x.shape == (3, 3, 40, 40)
    unnormalised = x * torch.tensor(p.std).view(1, 3, 1, 1) + torch.tensor(p.mean).view(1, 3, 1, 1)
    assert torch.allclose(unnormalised[:, 0], unnormalised[:, 1], atol=1e-6)
    assert torch.allclose(unnormalised[:, 1], unnormalised[:, 2], atol=1e-6)
    y = train_transform(p, 40)(train.images[:3], torch.Generator().manual_seed(0))
    assert y.shape == (3, 3, 40, 40)


@pytest.mark.parametrize("layout, message", [
    ({"a": 3, "b": 0}, "{root}/b: empty class folder (no JPEG/PNG/TIFF images)"),
    ({"only": 3}, "{root}: only one class folder ('only'); a classifier needs at least two (point --data at the folder that holds the class folders)"),
    ({}, "{root}: no class folders (expected one folder of images per class, as ImageFolder and EuroSAT lay them out)"),
])
def test_bad_folders(tmp_path, layout, message):
    root = tmp_path / "data"
    root.mkdir()
    make_folder(root, layout)
    with pytest.raises(DataError) as e:
        load_transfer_data(root, SplitPlan(), 8)
    assert str(e.value) == message.format(root=root)


def test_lazy_folder_split_decodes_batch_by_batch_as_the_eager_split(tmp_path):
    """ImageFiles (what `shinsou evaluate` reads) gives the same images and labels as decoding the split at once,
    a few at a time, and names the corrupt files of each batch instead of failing (or fails under strict)."""
    root = tmp_path / "land"
    make_folder(root / "train", {"a": 4, "b": 4})
    make_folder(root / "test", {"a": 5, "b": 5}, size=12)
    broken = root / "test" / "b" / "broken.png"  # the last file of the split
    broken.write_bytes(b"\x89PNG not really")
    plan = SplitPlan(0.25, 0.2, seed=0)
    eager = load_transfer_data(root, plan, 8, splits=("test",), log=lambda line: None).splits["test"]
    lazy = load_transfer_data(root, plan, 8, splits=("test",), lazy=True).splits["test"]
    assert type(lazy).__name__ == "ImageFiles" and len(lazy) == len(eager) + 1 == 11  # the broken file is only listed
    batches = list(lazy.batches(3))
    assert [len(labels) for _, labels, _ in batches] == [3, 3, 3, 1]
    assert torch.equal(torch.cat([images for images, _, _ in batches]), eager.images)
    assert np.concatenate([labels for _, labels, _ in batches]).tolist() == eager.labels.tolist()
    assert [f for _, _, skipped in batches for f in skipped] == [str(broken)]
    lazy.strict = True
    with pytest.raises(DataError, match="broken.png: corrupt image"):
        list(lazy.batches(3))


def test_explore_an_idx_folder_counts_blank_images_and_a_test_image_seen_in_training(tmp_path):
    from shinsou.api import explore

    rng = np.random.default_rng(0)
    images = rng.integers(1, 256, (60, 28, 28), dtype=np.uint8)
    images[5] = 0  # one blank training image
    test = rng.integers(1, 256, (10, 28, 28), dtype=np.uint8)
    test[3] = images[7]  # a test image that is also a training (or validation) image
    folder = tmp_path / "digits"
    folder.mkdir()
    for name, array in (("train-images-idx3-ubyte", images), ("t10k-images-idx3-ubyte", test),
                        ("train-labels-idx1-ubyte", np.repeat(np.arange(10), 6).astype(np.uint8)),
                        ("t10k-labels-idx1-ubyte", np.arange(10, dtype=np.uint8))):
        write_idx(folder / name, array)
    summary = explore("transfer", out=tmp_path / "explore", data=str(folder))
    assert (summary["kind"], summary["classes"], summary["test images"]) == ("idx", 10, 10)
    assert summary["train images"] + summary["val images"] == 60 and summary["blank images"] == 1
    assert summary["test images also in train"] + summary["test images also in validation"] == 1
