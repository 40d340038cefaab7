"""The Kaggle digit CSV: train (with label) and test (without) layouts, and each malformed row."""

import numpy as np
import pytest

from shinsou.errors import DataError
from shinsou.formats.kaggle_csv import read_kaggle_csv, write_kaggle_csv

HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))


def test_round_trip_with_and_without_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1])
    got_images, got_labels = read_kaggle_csv(write_kaggle_csv(tmp_path / "train.csv", images, labels))
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    got_images, got_labels = read_kaggle_csv(write_kaggle_csv(tmp_path / "test.csv", images))
    np.testing.assert_array_equal(got_images, images)
    assert got_labels is None


def test_header_is_checked(tmp_path):
    (tmp_path / "a.csv").write_text("label,p0,p1\n1,2,3\n")
    with pytest.raises(DataError, match="header must be 'label,pixel0,...,pixel783'"):
        read_kaggle_csv(tmp_path / "a.csv")


def test_row_with_wrong_number_of_columns(tmp_path):
    row = "7," + ",".join(["0"] * 784)
    (tmp_path / "a.csv").write_text(f"{HEADER}\n{row}\n{row},5\n")
    with pytest.raises(DataError) as e:
        read_kaggle_csv(tmp_path / "a.csv")
    assert str(e.value) == f"{tmp_path / 'a.csv'}: line 3 has 786 columns, expected 785"


@pytest.mark.parametrize("bad", ["256", "-1", "1.5", "x", ""])
def test_pixel_not_an_integer_in_range(tmp_path, bad):
    values = ["0"] * 784
    values[10] = bad
    (tmp_path / "a.csv").write_text(f"{HEADER}\n7,{','.join(['0'] * 784)}\n7,{','.join(values)}\n")
    with pytest.raises(DataError, match=r"line 3, column pixel10: .* is not an integer in 0..255"):
        read_kaggle_csv(tmp_path / "a.csv")


def test_empty_and_header_only(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match="empty file"):
        read_kaggle_csv(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text(HEADER + "\n")
    with pytest.raises(DataError, match="header only, no rows"):
        read_kaggle_csv(tmp_path / "h.csv")
