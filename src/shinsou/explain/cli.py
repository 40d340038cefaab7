"""`shinsou explain conv|pool|model|features`: the command-line face of explain/{conv,shapes,features}.py.
Tables for people (rich), one JSON object with --json for programs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich import box
from rich.table import Table

from shinsou.console import console, print_json
from shinsou.errors import ConfigError, unknown_name

explain_app = typer.Typer(
    help="See how a CNN computes: convolution and pooling written out, layer shapes of any model, "
         "and what a trained network sees in an image.",
    no_args_is_help=True,
)

MAX_SUMS_SHOWN = 50  # sums of products printed to the terminal (--json has them all; --cell picks one)


# ------------------------------------------------------------------------------------------------------ helpers
def matrix_table(matrix, title: str, marks: dict[tuple[int, int], str] | None = None,
                 offset: int = 0) -> Table:
    """A matrix with row/column numbers; `marks` styles some cells; `offset` numbers padded borders from -p."""
    from shinsou.explain.conv import fmt

    table = Table(title=title)
    table.add_column("", style="dim", justify="right")
    for c in range(matrix.shape[1]):
        table.add_column(str(c - offset), justify="right")
    for r in range(matrix.shape[0]):
        cells = []
        for c in range(matrix.shape[1]):
            text = fmt(matrix[r, c])
            style = (marks or {}).get((r, c))
            cells.append(f"[{style}]{text}[/]" if style else text)
        table.add_row(str(r - offset), *cells)
    return table


def parse_cell(text: str, shape: tuple[int, int]) -> tuple[int, int]:
    parts = text.replace(" ", "").split(",")
    if len(parts) != 2 or not all(p.lstrip("-").isdigit() for p in parts):
        raise ConfigError(f"--cell {text!r}: expected ROW,COL such as 0,0")
    r, c = int(parts[0]), int(parts[1])
    if not (0 <= r < shape[0] and 0 <= c < shape[1]):
        raise ConfigError(f"--cell {text!r}: outside the {shape[0]}x{shape[1]} feature map "
                          f"(rows 0..{shape[0] - 1}, columns 0..{shape[1] - 1})")
    return r, c


def parse_options(options: list[str] | None) -> dict:
    import yaml

    values = {}
    for item in options or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {item!r}: expected KEY=VALUE such as num_classes=2")
        values[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return values


def _int(n: int) -> str:
    return f"{n:,}"


# --------------------------------------------------------------------------------------------------------- conv
@explain_app.command("conv")
def conv_command(
    input: Optional[Path] = typer.Option(None, "--input", help="Input matrix: a text/CSV file of numbers, one row per line (or a 2-D .npy). Default: the lecture's 7x7 example."),
    example: Optional[str] = typer.Option(None, "--example", help="A built-in example: 'lecture' (7x7 binary input, kernel [[1,0,1],[0,1,0],[1,0,1]])."),
    kernel: Optional[str] = typer.Option(None, "--kernel", help="Kernel: a file like --input, a literal '1,0,1;0,1,0;1,0,1' (';' between rows) or a name: lecture, identity, box, sobel-x, sobel-y, sharpen. Default: the lecture's kernel."),
    stride: int = typer.Option(1, "--stride", help="Step of the kernel in both directions."),
    padding: int = typer.Option(0, "--padding", help="Rows/columns of zeros added on every side."),
    cell: Optional[str] = typer.Option(None, "--cell", help="Write out the sum of products of one output cell only, ROW,COL (from 0)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: input, kernel, output, sums of products, check."),
):
    """Slide a kernel over an input and write each output cell as the lecture does: 1x1 + 0x0 + ... = 4."""
    from shinsou.explain.conv import EXAMPLES, LECTURE_KERNEL, convolve, kernel_from_spec, output_size, read_matrix

    if input is not None and example is not None:
        raise ConfigError("give either --input or --example, not both")
    if example is not None and example not in EXAMPLES:
        raise unknown_name("example", example, EXAMPLES)
    image, default_kernel = EXAMPLES[example or "lecture"] if input is None else (read_matrix(input), LECTURE_KERNEL)
    k = kernel_from_spec(kernel) if kernel is not None else default_kernel
    result = convolve(image, k, stride=stride, padding=padding)
    rows, cols = result.output.shape
    cells = [parse_cell(cell, (rows, cols))] if cell else [(r, c) for r in range(rows) for c in range(cols)]
    (h, w), (kh, kw) = image.shape, k.shape
    formula = (f"rows: floor(({h} + 2*{padding} - {kh}) / {stride}) + 1 = {output_size(h, kh, stride, padding)}; "
               f"columns: floor(({w} + 2*{padding} - {kw}) / {stride}) + 1 = {output_size(w, kw, stride, padding)}")

    if as_json:
        print_json({
            "operation": "cross-correlation (the kernel is not flipped), as torch.nn.functional.conv2d",
            "input": image, "kernel": k, "stride": stride, "padding": padding, "output": result.output,
            "output_size": [rows, cols], "formula": formula,
            "cells": [{"row": r, "col": c, "terms": [list(t) for t in result.terms(r, c)],
                       "sum": float(result.output[r, c]), "text": result.sum_text(r, c)} for r, c in cells],
            "checked_against_loop": result.max_difference < 1e-9, "max_difference": result.max_difference,
        })
        return

    console.print("Convolution as deep-learning libraries compute it: [bold]cross-correlation[/bold] "
                  "(the kernel slides over the input without being flipped), by torch.nn.functional.conv2d.")
    shown = result.padded if padding else image
    marks = {(r, c): "dim" for r in range(shown.shape[0]) for c in range(shown.shape[1])
             if not (padding <= r < padding + h and padding <= c < padding + w)}  # the zeros of the padding
    if cell:
        r, c = cells[0]
        marks.update({(r * stride + i, c * stride + j): "bold reverse" for i in range(kh) for j in range(kw)})
    console.print(matrix_table(shown, f"input {h}x{w}" + (f" + padding {padding}" if padding else ""), marks,
                               offset=padding))
    console.print(matrix_table(k, f"kernel {kh}x{kw}"))
    console.print(matrix_table(result.output, f"feature map {rows}x{cols}", {cells[0]: "bold reverse"} if cell else None))
    console.print(f"output size with stride {stride}, padding {padding}: {formula}")
    sums = Table(title="each output cell: kernel value x input value, summed")
    sums.add_column("cell", justify="right")
    sums.add_column("sum of products")
    for r, c in cells[:MAX_SUMS_SHOWN]:
        sums.add_row(f"({r},{c})", result.sum_text(r, c))
    console.print(sums)
    if len(cells) > MAX_SUMS_SHOWN:
        console.print(f"... {len(cells) - MAX_SUMS_SHOWN} more cells: pick one with --cell ROW,COL or see --json")
    _print_check(result.max_difference)


def _print_check(difference: float) -> None:
    if difference < 1e-9:
        console.print("[green]checked[/green]: a plain Python loop over the definition gives the same numbers.")
    else:
        console.print(f"[red]mismatch[/red]: the plain loop differs from the framework by {difference:g}")


# --------------------------------------------------------------------------------------------------------- pool
@explain_app.command("pool")
def pool_command(
    input: Optional[Path] = typer.Option(None, "--input", help="Input matrix: a text/CSV file of numbers, one row per line (or a 2-D .npy). Default: a 4x4 example."),
    size: int = typer.Option(2, "--size", help="Window size (size x size)."),
    stride: Optional[int] = typer.Option(None, "--stride", help="Step between windows (default: the window size, so windows do not overlap)."),
    mode: str = typer.Option("max", "--mode", help="max (keep the largest value of each window) or avg (their mean)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: input, output and, for max, each window's winning cell."),
):
    """Pool a matrix window by window; for max pooling, show which cell won each window."""
    from shinsou.explain.conv import POOL_EXAMPLE, pool, read_matrix

    image = read_matrix(input) if input is not None else POOL_EXAMPLE
    result = pool(image, size=size, stride=stride, mode=mode)
    if as_json:
        print_json({"input": image, "size": size, "stride": result.stride, "mode": mode, "output": result.output,
                    "winners": [[list(w) for w in row] for row in result.winners] if result.winners else None,
                    "checked_against_loop": result.max_difference < 1e-9, "max_difference": result.max_difference})
        return
    marks = {w: "bold green" for row in result.winners for w in row} if result.winners else None
    h, w = image.shape
    console.print(matrix_table(image, f"input {h}x{w}" + (" (winners in green)" if marks else ""), marks))
    rows, cols = result.output.shape
    console.print(f"{mode} pooling, window {size}x{size}, stride {result.stride}: "
                  f"floor(({h} - {size}) / {result.stride}) + 1 = {rows} rows, "
                  f"floor(({w} - {size}) / {result.stride}) + 1 = {cols} columns")
    console.print(matrix_table(result.output, f"output {rows}x{cols}"))
    if result.winners:
        table = Table(title="winner of each window")
        for name in ("output cell", "window rows", "window columns", "winner (row, col)", "value"):
            table.add_column(name, justify="right")
        s = result.stride
        for r in range(rows):
            for c in range(cols):
                wr, wc = result.winners[r][c]
                table.add_row(f"({r},{c})", f"{r * s}..{r * s + size - 1}", f"{c * s}..{c * s + size - 1}",
                              f"({wr},{wc})", f"{image[wr, wc]:g}")
        console.print(table)
    _print_check(result.max_difference)


# -------------------------------------------------------------------------------------------------------- model
@explain_app.command("model")
def model_command(
    target: str = typer.Argument(..., metavar="NAME|RUN_DIR", help="A model name (lenet5, lenet-caffe, ...) or a run directory written by `shinsou train`."),
    input_size: Optional[str] = typer.Option(None, "--input-size", help="Input shape CxHxW, e.g. 3x224x224 (default: the model's own input_size or example_input())."),
    option: Optional[List[str]] = typer.Option(None, "--option", help="Builder option KEY=VALUE for a model name, e.g. num_classes=2 (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: every layer and the totals."),
):
    """The layer table of a model from a real forward pass (hooks): kernel, stride, output shape, parameters, multiply-adds."""
    from shinsou.explain.shapes import load_target, model_input, trace_model

    model, label = load_target(target, parse_options(option))
    example, source = model_input(model, input_size)
    trace = trace_model(model, example, label, source)
    if as_json:
        print_json(trace.as_dict())
        return
    console.print(model_table(trace))
    console.print(f"{_int(trace.total_params)} parameters ({_int(trace.trainable_params)} trainable), "
                  f"{_int(trace.total_macs)} multiply-adds per forward pass")
    console.print("multiply-adds: convolution Cout*Hout*Wout*Cin/groups*kh*kw, linear in*out per row of input; "
                  "bias, normalisation, pooling and activations count 0.", style="dim")


def _shape_text(row) -> str:
    if row.output_shape is None:
        return shapes_text(row.output_shapes)
    text = "x".join(map(str, row.output_shape))
    extra = _tensor_count(row.output_shapes) - 1
    if extra > 0:
        text += " (+indices)" if row.type.startswith("MaxPool") and extra == 1 else f" (+{extra} more)"
    return text


def _tensor_count(shapes) -> int:
    if isinstance(shapes, list) and shapes and all(isinstance(s, int) for s in shapes):
        return 1
    if isinstance(shapes, list):
        return sum(_tensor_count(s) for s in shapes)
    if isinstance(shapes, dict):
        return sum(_tensor_count(s) for s in shapes.values())
    return 0


def shapes_text(shapes) -> str:
    """[1, 20, 24, 24] -> '1x20x24x24'; nested lists/dicts of shapes -> comma-separated; descriptions as they are."""
    if isinstance(shapes, list) and all(isinstance(s, int) for s in shapes):
        return "x".join(map(str, shapes))
    if isinstance(shapes, list):
        return ", ".join(shapes_text(s) for s in shapes)
    if isinstance(shapes, dict):
        return ", ".join(f"{k}: {shapes_text(v)}" for k, v in shapes.items())
    return "" if shapes is None else str(shapes)


def model_table(trace) -> Table:
    given = shapes_text(trace.input)
    caption = ("shapes start with the batch dimension (nodes, for a graph)"
               + (f"; input: {given}" if len(given) > 24 else ""))
    table = Table(title=f"{trace.model}: one forward pass, input from {trace.input_source}", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True, caption=caption)
    for name, justify in (("layer", "left"), ("type", "left"), ("kernel", "left"), ("stride", "right"),
                          ("output", "left"), ("params", "right"), ("mult-adds", "right"), ("trainable", "left")):
        # numbers and shapes stay on one line; names wrap when the terminal is narrow
        table.add_column(name, justify=justify, overflow="fold", no_wrap=name not in ("layer", "type", "trainable"))
    table.add_row("input", "", "", "", given if len(given) <= 24 else "(below)", "", "", "", style="dim")
    for row in trace.rows:
        params = "shared" if row.shared else (_int(row.params) if row.params else "")
        table.add_row(row.name, row.type, row.kernel, row.stride, _shape_text(row), params,
                      _int(row.macs) if row.macs else "", row.trainable if row.trainable != "-" else "")
    table.add_section()
    frozen = trace.total_params - trace.trainable_params
    table.add_row("total", "", "", "", shapes_text(trace.output), _int(trace.total_params), _int(trace.total_macs),
                  f"{_int(frozen)} frozen" if frozen else "all", style="bold")
    return table


# ----------------------------------------------------------------------------------------------------- features
@explain_app.command("features")
def features_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by `shinsou train` (an MNIST run, for instance)."),
    image: Path = typer.Argument(..., help="The input: a PNG/JPEG digit, or an IDX/CSV file (see --index)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the PNGs (default RUN_DIR/explain/<input name>)."),
    index: int = typer.Option(0, "--index", help="Which image of an IDX or CSV file (from 0)."),
    invert: bool = typer.Option(False, "--invert", help="The image is dark ink on a light background."),
    target: Optional[str] = typer.Option(None, "--target", help="Class to explain with Grad-CAM (default: the predicted one)."),
    max_channels: Optional[int] = typer.Option(None, "--max-channels", help="Draw at most this many channels per feature map (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: prediction and every file written."),
):
    """PNGs of what a trained CNN sees: first-layer filters, every conv/pool feature map (one panel per channel)
    and a Grad-CAM overlay of the pixels that drove the prediction."""
    from shinsou.explain.features import explain_features

    if max_channels is not None and max_channels < 1:
        raise ConfigError(f"--max-channels must be at least 1, got {max_channels}")
    result = explain_features(run_dir, image, out=out, index=index, invert=invert, target=target,
                              max_channels=max_channels)
    if as_json:
        print_json(result)
        return
    console.print(f"{result['input']}: predicted [bold]{result['class']}[/bold] "
                  f"(p={result['probability']:.3f}); next: "
                  + ", ".join(f"{t['class']} {t['probability']:.3f}" for t in result["top"][1:]))
    table = Table(title=f"written to {result['out']}")
    for name in ("picture", "layer", "shape", "panels", "file"):
        table.add_column(name)
    f = result["filters"]
    table.add_row("filters", f["layer"], "x".join(map(str, f["shape"])), str(f["count"]), Path(f["file"]).name)
    for layer in result["feature_maps"]:
        table.add_row(f"feature maps ({layer['type']})", layer["layer"], "x".join(map(str, layer["shape"])),
                      str(layer["panels"]), Path(layer["file"]).name)
    g = result["gradcam"]
    table.add_row(f"Grad-CAM for {g['target']}", g["layer"], "", "2", Path(g["file"]).name)
    console.print(table)
