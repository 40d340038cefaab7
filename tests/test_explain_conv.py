"""`shinsou explain conv|pool`: the lecture's convolution (first cell 4, 5x5 map), the output-size formula,
pooling winners, checked against hand computation, a plain loop and torch; bad inputs exit 2 with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from shinsou.errors import ConfigError, DataError
from shinsou.explain.conv import (LECTURE_INPUT, LECTURE_KERNEL, POOL_EXAMPLE, conv_loop, convolve, kernel_from_spec,
                                  output_size, parse_matrix_text, pool)

LECTURE_SUM = "1x1 + 0x0 + 1x0 + 0x1 + 1x1 + 0x0 + 1x1 + 0x1 + 1x1 = 4"


def test_lecture_example_first_cell_is_the_lectures_sum():
    result = convolve(LECTURE_INPUT, LECTURE_KERNEL)
    assert result.output.shape == (5, 5)
    assert result.output[0, 0] == 4
    assert result.sum_text(0, 0) == LECTURE_SUM
    # by hand: the top-left 3x3 patch times the X kernel
    patch = LECTURE_INPUT[:3, :3]
    assert (patch * LECTURE_KERNEL).sum() == 4
    assert result.max_difference == 0.0


def test_every_cell_is_the_sum_of_its_written_products():
    result = convolve(LECTURE_INPUT, LECTURE_KERNEL)
    for r in range(5):
        for c in range(5):
            assert sum(k * v for k, v in result.terms(r, c)) == result.output[r, c]


def test_cli_lecture_example_prints_the_sum_and_says_cross_correlation(cli):
    code, out, err = cli("explain", "conv")
    assert code == 0, err
    assert LECTURE_SUM in out
    assert "cross-correlation" in out
    assert "feature map 5x5" in out
    assert "checked" in out


def test_cli_conv_json_and_single_cell(cli):
    code, out, _ = cli("explain", "conv", "--example", "lecture", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["output_size"] == [5, 5]
    assert data["cells"][0]["text"] == LECTURE_SUM
    assert len(data["cells"]) == 25
    assert data["checked_against_loop"] is True
    torch_out = F.conv2d(torch.tensor(LECTURE_INPUT)[None, None], torch.tensor(LECTURE_KERNEL)[None, None])[0, 0]
    assert np.array_equal(np.array(data["output"]), torch_out.numpy())

    code, out, _ = cli("explain", "conv", "--cell", "4,4", "--json")
    cells = json.loads(out)["cells"]
    assert [(c["row"], c["col"]) for c in cells] == [(4, 4)]
    assert cells[0]["sum"] == (LECTURE_INPUT[4:7, 4:7] * LECTURE_KERNEL).sum()


@pytest.mark.parametrize("n,k,stride,padding", [(7, 3, 1, 0), (7, 3, 1, 1), (7, 3, 2, 0), (7, 3, 2, 1),
                                                (8, 3, 2, 1), (6, 5, 3, 2), (5, 5, 1, 0), (28, 5, 1, 0)])
def test_padding_and_stride_follow_the_standard_formula(n, k, stride, padding):
    rng = np.random.default_rng(n * 100 + k * 10 + stride + padding)
    image, kernel = rng.integers(-3, 4, (n, n)).astype(float), rng.integers(-2, 3, (k, k)).astype(float)
    result = convolve(image, kernel, stride=stride, padding=padding)
    expected = (n + 2 * padding - k) // stride + 1
    assert output_size(n, k, stride, padding) == expected
    assert result.output.shape == (expected, expected)
    assert np.array_equal(result.output, conv_loop(np.pad(image, padding), kernel, stride))
    reference = F.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None], stride=stride, padding=padding)
    assert np.allclose(result.output, reference[0, 0].numpy())


def test_non_square_inputs_and_kernels_from_files(tmp_path, cli):
    (tmp_path / "x.txt").write_text("1 2 3 4\n5 6 7 8\n9 10 11 12\n")
    (tmp_path / "k.csv").write_text("1,-1\n")
    code, out, _ = cli("explain", "conv", "--input", tmp_path / "x.txt", "--kernel", tmp_path / "k.csv", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["output"] == [[-1, -1, -1], [-1, -1, -1], [-1, -1, -1]]  # neighbours differ by 1
    assert data["cells"][0]["text"] == "1x1 + -1x2 = -1"


def test_kernel_literals_and_names():
    assert np.array_equal(kernel_from_spec("1,0,1;0,1,0;1,0,1"), LECTURE_KERNEL)
    assert np.array_equal(kernel_from_spec("lecture"), LECTURE_KERNEL)
    assert kernel_from_spec("sobel-x")[1, 2] == 2
    assert np.array_equal(parse_matrix_text("# comment\n1 2\n3 4\n", "m"), [[1, 2], [3, 4]])


def test_pooling_winners_by_hand():
    result = pool(POOL_EXAMPLE, size=2, mode="max")
    assert result.output.tolist() == [[6, 8], [3, 4]]
    assert result.winners == [[(1, 1), (1, 3)], [(2, 0), (3, 3)]]
    assert result.max_difference == 0.0
    average = pool(POOL_EXAMPLE, size=2, mode="avg")
    assert average.output.tolist() == [[3.25, 5.25], [2.0, 2.0]]
    assert average.winners is None


def test_pooling_ties_overlap_and_odd_sizes_agree_with_torch():
    tied = np.array([[1, 1], [1, 0]], dtype=float)
    assert pool(tied, 2).winners == [[(0, 0)]]  # the first maximum in reading order, as torch
    rng = np.random.default_rng(3)
    image = rng.integers(0, 5, (7, 9)).astype(float)  # many ties
    for size, stride in ((2, 2), (3, 2), (3, 1), (2, 3)):
        result = pool(image, size, stride)
        reference, idx = F.max_pool2d(torch.tensor(image)[None, None], size, stride, return_indices=True)
        assert np.array_equal(result.output, reference[0, 0].numpy())
        assert [[r * 9 + c for r, c in row] for row in result.winners] == idx[0, 0].tolist()
        assert result.max_difference == 0.0


def test_cli_pool_json_and_table(tmp_path, cli):
    code, out, _ = cli("explain", "pool", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["output"] == [[6, 8], [3, 4]] and data["winners"] == [[[1, 1], [1, 3]], [[2, 0], [3, 3]]]
    (tmp_path / "m.txt").write_text("1 2 3\n4 5 6\n7 8 9\n")
    code, out, _ = cli("explain", "pool", "--input", tmp_path / "m.txt", "--size", "2", "--stride", "1")
    assert code == 0
    assert "winner of each window" in out and "(2,2)" in out


@pytest.mark.parametrize("args,message", [
    (["conv", "--kernel", "1,1,1,1,1;1,1,1,1,1;1,1,1,1,1;1,1,1,1,1;1,1,1,1,1", "--input", "{small}"],
     "kernel 5x5 is larger than the input 3x3; use a smaller kernel or more --padding"),
    (["conv", "--input", "{bad}"], "{bad}: row 2: 'x' is not a number"),
    (["conv", "--input", "{ragged}"], "{ragged}: row 2 has 2 values, row 1 has 3 (a matrix needs rows of equal length)"),
    (["conv", "--input", "{empty}"], "{empty}: no numbers found (expected rows of numbers, e.g. '1 0 1')"),
    (["conv", "--input", "{missing}"], "{missing}: no such file"),
    (["conv", "--kernel", "nonsense"], "--kernel 'nonsense': not a file, a kernel name (lecture, identity, box, "
                                       "sobel-x, sobel-y, sharpen) or a literal like '1,0,1;0,1,0;1,0,1'"),
    (["conv", "--stride", "0"], "--stride must be at least 1, got 0"),
    (["conv", "--padding", "-1"], "--padding must be 0 or more, got -1"),
    (["conv", "--cell", "5,0"], "--cell '5,0': outside the 5x5 feature map (rows 0..4, columns 0..4)"),
    (["conv", "--cell", "a"], "--cell 'a': expected ROW,COL such as 0,0"),
    (["conv", "--example", "slides"], "unknown example 'slides' (known: lecture)"),
    (["conv", "--example", "lecture", "--input", "{small}"], "give either --input or --example, not both"),
    (["pool", "--size", "5"], "pooling window 5x5 is larger than the input 4x4"),
    (["pool", "--mode", "median"], "--mode must be max or avg, got 'median'"),
    (["pool", "--input", "{binary}"], "{binary}: not a text file of numbers (binary content)"),
])
def test_bad_inputs_exit_2_with_one_line(tmp_path, cli, args, message):
    files = {"small": "1 0 1\n0 1 0\n1 0 1\n", "bad": "1 2\n3 x\n", "ragged": "1 2 3\n4 5\n", "empty": "\n# nothing\n"}
    paths = {name: tmp_path / f"{name}.txt" for name in (*files, "missing", "binary")}
    for name, text in files.items():
        paths[name].write_text(text)
    paths["binary"].write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    args = [a.format(**paths) for a in args]
    code, out, err = cli("explain", *args)
    assert code == 2
    assert err.strip() == "error: " + message.format(**paths)
    assert out == ""


def test_api_errors_are_shinsou_errors():
    with pytest.raises(ConfigError):
        convolve(np.ones((2, 2)), np.ones((3, 3)))
    with pytest.raises(DataError):
        parse_matrix_text("1 nan", "m")
