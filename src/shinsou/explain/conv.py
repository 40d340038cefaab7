"""Convolution and pooling on small matrices, written out as the lecture writes them ("1x1 + 0x0 + ... = 4").
Deep-learning convolution is cross-correlation (the kernel is not flipped), as torch.nn.functional.conv2d computes it."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from shinsou.errors import ConfigError, DataError

# The lecture's example: a 7x7 binary input and the "X" kernel. The top-left 3x3 patch is the one the lecture
# multiplies out (1x1 + 0x0 + 1x0 + 0x1 + 1x1 + 0x0 + 1x1 + 0x1 + 1x1 = 4, kernel value first); the rest of the
# input is a diagonal band of ones of our own, chosen so that the 5x5 feature map varies.
LECTURE_INPUT = np.array([
    [1, 0, 0, 1, 0, 1, 0],
    [1, 1, 0, 0, 1, 1, 0],
    [1, 1, 1, 0, 0, 1, 1],
    [0, 1, 1, 1, 0, 0, 1],
    [0, 0, 1, 1, 1, 0, 0],
    [1, 0, 0, 1, 1, 1, 0],
    [0, 1, 0, 0, 1, 1, 1],
], dtype=np.float64)
LECTURE_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float64)

# A 4x4 map for pooling (CS231n's max-pooling example): 2x2 max pooling keeps [[6, 8], [3, 4]].
POOL_EXAMPLE = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float64)

EXAMPLES = {"lecture": (LECTURE_INPUT, LECTURE_KERNEL)}

# Named kernels for --kernel, besides a file or a literal such as "1,0,1;0,1,0;1,0,1"
KERNELS = {
    "lecture": LECTURE_KERNEL,
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float64),
    "box": np.full((3, 3), 1 / 9),
    "sobel-x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64),
    "sobel-y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
}


# ---------------------------------------------------------------------------------------------- reading matrices
def parse_matrix_text(text: str, source: str) -> np.ndarray:
    """Rows on lines (or separated by ';'), values separated by spaces or commas -> 2-D float array."""
    rows = [r for r in re.split(r"[;\n]", text) if r.strip() and not r.lstrip().startswith("#")]
    if not rows:
        raise DataError(f"{source}: no numbers found (expected rows of numbers, e.g. '1 0 1')")
    matrix = []
    for line_no, row in enumerate(rows, 1):
        values = [v for v in re.split(r"[,\s]+", row.strip()) if v]
        try:
            matrix.append([float(v) for v in values])
        except ValueError:
            bad = next(v for v in values if not _is_number(v))
            raise DataError(f"{source}: row {line_no}: {bad!r} is not a number") from None
    widths = {len(r) for r in matrix}
    if len(widths) != 1:
        first_bad = next(i for i, r in enumerate(matrix, 1) if len(r) != len(matrix[0]))
        raise DataError(f"{source}: row {first_bad} has {len(matrix[first_bad - 1])} values, row 1 has {len(matrix[0])} "
                        "(a matrix needs rows of equal length)")
    array = np.array(matrix, dtype=np.float64)
    if not np.isfinite(array).all():
        raise DataError(f"{source}: contains NaN or infinity")
    return array


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_matrix(path: str | os.PathLike) -> np.ndarray:
    """A text/CSV file of numbers (or a 2-D .npy array) -> 2-D float array."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise DataError(f"{path}: not a readable .npy array ({e})") from None
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
            raise DataError(f"{path}: expected a 2-D numeric array, got {array.ndim}-D {array.dtype}")
        if not np.isfinite(array).all():
            raise DataError(f"{path}: contains NaN or infinity")
        return array.astype(np.float64)
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file of numbers (binary content)") from None
    return parse_matrix_text(text, str(path))


def kernel_from_spec(spec: str) -> np.ndarray:
    """--kernel: a file, a named kernel (lecture, sobel-x, ...) or a literal such as '1,0,1;0,1,0;1,0,1'."""
    if spec in KERNELS:
        return KERNELS[spec]
    if Path(spec).is_file():
        return read_matrix(spec)
    if re.fullmatch(r"[\d\s,;.+\-eE]+", spec):
        return parse_matrix_text(spec, f"--kernel {spec!r}")
    raise ConfigError(f"--kernel {spec!r}: not a file, a kernel name ({', '.join(KERNELS)}) "
                      "or a literal like '1,0,1;0,1,0;1,0,1'")


# ----------------------------------------------------------------------------------------------------- convolution
def output_size(n: int, k: int, stride: int, padding: int) -> int:
    """The standard formula: floor((n + 2p - k) / s) + 1."""
    return (n + 2 * padding - k) // stride + 1


@dataclass
class ConvResult:
    input: np.ndarray  # (H, W) as given
    kernel: np.ndarray  # (kh, kw)
    stride: int
    padding: int
    padded: np.ndarray  # (H + 2p, W + 2p)
    output: np.ndarray  # (H_out, W_out), from torch's conv2d
    loop_output: np.ndarray  # the same by a plain loop
    max_difference: float

    def terms(self, r: int, c: int) -> list[tuple[float, float]]:
        """(kernel value, input value) pairs of output cell (r, c), row by row through the window."""
        kh, kw = self.kernel.shape
        top, left = r * self.stride, c * self.stride
        window = self.padded[top:top + kh, left:left + kw]
        return list(zip(self.kernel.ravel().tolist(), window.ravel().tolist()))

    def sum_text(self, r: int, c: int) -> str:
        """'1x1 + 0x0 + 1x0 + ... = 4': kernel value x input value, as the lecture writes it."""
        terms = self.terms(r, c)
        products = " + ".join(f"{fmt(k)}x{fmt(v)}" for k, v in terms)
        return f"{products} = {fmt(self.output[r, c])}"


def fmt(value: float) -> str:
    """Integers without a decimal point, other numbers compactly (4, -2, 0.5, 0.1111)."""
    value = float(value)
    if abs(value - round(value)) < 1e-9:
        return str(int(round(value)))
    return f"{value:.4g}"


def check_conv_args(shape: tuple[int, int], kernel_shape: tuple[int, int], stride: int, padding: int) -> None:
    if stride < 1:
        raise ConfigError(f"--stride must be at least 1, got {stride}")
    if padding < 0:
        raise ConfigError(f"--padding must be 0 or more, got {padding}")
    (h, w), (kh, kw) = shape, kernel_shape
    if kh > h + 2 * padding or kw > w + 2 * padding:
        padded = f" (padded by {padding}: {h + 2 * padding}x{w + 2 * padding})" if padding else ""
        raise ConfigError(f"kernel {kh}x{kw} is larger than the input {h}x{w}{padded}; "
                          "use a smaller kernel or more --padding")


def convolve(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0) -> ConvResult:
    """2-D cross-correlation with zero padding by torch's conv2d, checked against a plain loop."""
    image, kernel = np.asarray(image, np.float64), np.asarray(kernel, np.float64)
    check_conv_args(image.shape, kernel.shape, stride, padding)
    x = torch.from_numpy(image)[None, None]  # (1, 1, H, W)
    k = torch.from_numpy(kernel)[None, None]  # (1, 1, kh, kw): one output channel, one input channel
    out = F.conv2d(x, k, stride=stride, padding=padding)[0, 0].numpy()  # (H_out, W_out)
    padded = np.pad(image, padding)
    loop = conv_loop(padded, kernel, stride)
    return ConvResult(image, kernel, stride, padding, padded, out, loop, float(np.abs(out - loop).max()))


def conv_loop(padded: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """The definition, one output cell at a time: out[r, c] = sum_ij kernel[i, j] * x[r*s + i, c*s + j]."""
    kh, kw = kernel.shape
    rows = (padded.shape[0] - kh) // stride + 1
    cols = (padded.shape[1] - kw) // stride + 1
    out = np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            total = 0.0
            for i in range(kh):
                for j in range(kw):
                    total += kernel[i, j] * padded[r * stride + i, c * stride + j]
            out[r, c] = total
    return out


# --------------------------------------------------------------------------------------------------------- pooling
@dataclass
class PoolResult:
    input: np.ndarray  # (H, W)
    size: int
    stride: int
    mode: str
    output: np.ndarray  # (H_out, W_out)
    winners: list[list[tuple[int, int]]] | None  # max mode: (row, col) in the input of each window's maximum
    max_difference: float  # against the plain loop


def pool(image: np.ndarray, size: int = 2, stride: int | None = None, mode: str = "max") -> PoolResult:
    """Max or average pooling by torch (max with indices: the winning cell of each window), checked by a loop.
    Ties go to the first cell in reading order, as torch's CPU kernel does."""
    image = np.asarray(image, np.float64)
    stride = size if stride is None else stride
    if mode not in ("max", "avg"):
        raise ConfigError(f"--mode must be max or avg, got {mode!r}")
    if size < 1 or stride < 1:
        raise ConfigError(f"--size and --stride must be at least 1, got {size} and {stride}")
    h, w = image.shape
    if size > h or size > w:
        raise ConfigError(f"pooling window {size}x{size} is larger than the input {h}x{w}")
    x = torch.from_numpy(image)[None, None]  # (1, 1, H, W)
    winners = None
    if mode == "max":
        out, idx = F.max_pool2d(x, size, stride, return_indices=True)  # (1, 1, H_out, W_out) each
        idx = idx[0, 0].numpy()
        winners = [[(int(i) // w, int(i) % w) for i in row] for row in idx]
    else:
        out = F.avg_pool2d(x, size, stride)
    out = out[0, 0].numpy()
    loop, loop_winners = pool_loop(image, size, stride, mode)
    difference = float(np.abs(out - loop).max())
    if winners is not None and winners != loop_winners:
        difference = math.inf  # the framework and the loop disagree on a winner
    return PoolResult(image, size, stride, mode, out, winners, difference)


def pool_loop(image: np.ndarray, size: int, stride: int, mode: str):
    rows, cols = output_size(image.shape[0], size, stride, 0), output_size(image.shape[1], size, stride, 0)
    out = np.zeros((rows, cols))
    winners = []
    for r in range(rows):
        winners.append([])
        for c in range(cols):
            window = image[r * stride:r * stride + size, c * stride:c * stride + size]
            if mode == "avg":
                out[r, c] = window.mean()
                continue
            best = (r * stride, c * stride)
            for i in range(size):
                for j in range(size):
                    if window[i, j] > image[best]:  # strictly greater: the first maximum wins ties
                        best = (r * stride + i, c * stride + j)
            out[r, c] = image[best]
            winners[-1].append(best)
    return out, winners
