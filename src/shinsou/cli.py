"""The `shinsou` command: `train <pipeline>`, `evaluate`, `predict` (and, per pipeline, more verbs).
A thin wrapper over the Python API; user errors print one line and exit with status 2."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from shinsou.cnn.cli import train_mnist_command
from shinsou.console import clean_for_json, console, err_console, print_json
from shinsou.errors import ConfigError, ShinsouError
from shinsou.transfer.cli import train_transfer_command
from shinsou.explain.cli import explain_app
from shinsou.graphs.communities.cli import train_graph_command
from shinsou.graphs.molecules.cli import train_molecules_command
from shinsou.graphs.traffic.cli import make_traffic_command, train_traffic_command
from shinsou.segmentation.cli import make_scenes_command, train_segnet_command

app = typer.Typer(
    name="shinsou",
    help="shinsou (深層): train, evaluate, inspect and serve the deep-learning lecture's models on your own data.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train a model. Each pipeline is a subcommand; every run writes RUN_DIR/report.html.",
                        no_args_is_help=True)
data_app = typer.Typer(help="Make or inspect data sets (generators for the embedded defaults).", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(data_app, name="data")
app.add_typer(explain_app, name="explain")

# one line per pipeline: its train command (and data verbs) live in the pipeline's own cli.py
train_app.command("mnist")(train_mnist_command)
train_app.command("transfer")(train_transfer_command)
train_app.command("graph")(train_graph_command)
train_app.command("molecules")(train_molecules_command)
train_app.command("segnet")(train_segnet_command)
data_app.command("make-scenes")(make_scenes_command)
train_app.command("traffic")(train_traffic_command)
data_app.command("make-traffic")(make_traffic_command)


def _run_pipeline(run_dir: Path):
    from shinsou.engine.config import load_run_config
    from shinsou.pipelines import pipeline_module

    config = load_run_config(run_dir)
    return pipeline_module(config.get("pipeline", "?"))


def _call(function, *args, **options):
    """Call a pipeline's entry point with the options the user gave; an option it lacks is a clear error."""
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    import inspect

    accepted = inspect.signature(function).parameters
    for name in given:
        if name not in accepted and not any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
            raise ConfigError(f"--{name.replace('_', '-')} does not apply to this run's pipeline")
    return function(*args, **given)


@app.command()
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory written by `shinsou train`."),
    data: Optional[Path] = typer.Option(None, "--data", help="Data to evaluate on (default: the run's own test split)."),
    images: Optional[Path] = typer.Option(None, "--images", help="An IDX image file (or a labelled Kaggle CSV)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="The IDX label file that goes with --images."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (at least `accuracy` and `n`)."),
):
    """Measure a trained run on its test split or on other data: accuracy, per-class metrics, confusion matrix."""
    module = _run_pipeline(run_dir)
    metrics = _call(module.evaluate_run, run_dir, data=str(data) if data else None,
                    images=str(images) if images else None, labels=str(labels) if labels else None)
    if as_json:
        print_json(metrics)
        return
    print_metrics(metrics)


def print_metrics(metrics: dict) -> None:
    scalars = {k: v for k, v in clean_for_json(metrics).items() if isinstance(v, (int, float, str)) and k != "class_names"}
    table = Table(title="evaluation", show_header=False)
    for key, value in scalars.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    per = metrics.get("per_class")
    if per:
        names = metrics.get("class_names") or [str(i) for i in range(len(per["support"]))]
        columns = [c for c in ("precision", "recall", "f1", "iou", "support") if c in per]
        table = Table(title="per class")
        table.add_column("class")
        for c in columns:
            table.add_column(c, justify="right")
        for i, name in enumerate(names):
            table.add_row(name, *[f"{per[c][i]:.4f}" if isinstance(per[c][i], float) else str(per[c][i]) for c in columns])
        console.print(table)


@app.command()
def predict(
    run_dir: Path = typer.Argument(..., help="A run directory written by `shinsou train`."),
    files: List[Path] = typer.Argument(..., help="Inputs: images (PNG/JPEG...), IDX or CSV files, as the pipeline takes."),
    invert: bool = typer.Option(False, "--invert", help="Digits: the inputs are dark ink on a light background."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for output images, where the pipeline writes any."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per input, in a list."),
):
    """Predict with a trained run: class and top probabilities for each input."""
    module = _run_pipeline(run_dir)
    results = _call(module.predict_run, run_dir, [str(f) for f in files], invert=invert, out=str(out) if out else None)
    if as_json:
        print_json(results)
        return
    console.print(predictions_table(results))
    for r in results:
        if r.get("warning"):
            err_console.print(f"warning: {r['input']}: {r['warning']}", markup=False, soft_wrap=True)


def predictions_table(results: list[dict]) -> Table:
    """Classifiers: class, probability and runners-up; other pipelines: their scalar fields as columns."""
    table = Table(title="predictions")
    if all("class" in r and "probability" in r for r in results):
        for column, justify in (("input", "left"), ("class", "left"), ("probability", "right"), ("next best", "left")):
            table.add_column(column, justify=justify)
        for r in results:
            rest = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r.get("top", [])[1:])
            table.add_row(r["input"], str(r["class"]), f"{r['probability']:.4f}", rest)
        return table
    columns = [k for k in dict.fromkeys(k for r in results for k, v in r.items() if isinstance(v, (str, int, float)))]
    for column in columns:
        table.add_column(column)
    for r in clean_for_json(results):
        table.add_row(*[f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in columns])
    return table


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    try:
        result = app(args=argv, prog_name="shinsou", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except ShinsouError as e:
        err_console.print(f"error: {e}", markup=False, soft_wrap=True)
        return 2
    except typer.Exit as e:
        return e.exit_code
    except typer.TyperException as e:  # a usage error (unknown option, bad value): Click's usage line and message
        e.show()
        return getattr(e, "exit_code", 2)
    except (typer.Abort, KeyboardInterrupt):
        run_dir = os.environ.get("SHINSOU_RUN_DIR")
        hint = f"; the last finished epoch is saved, continue with --resume {run_dir}" if run_dir else ""
        err_console.print(f"interrupted{hint}", markup=False, soft_wrap=True)
        return 130
    except Exception as e:  # a bug, not a user error: one line unless asked for the traceback
        if os.environ.get("SHINSOU_DEBUG"):
            raise
        err_console.print(f"internal error: {e.__class__.__name__}: {e} (set SHINSOU_DEBUG=1 for the traceback)",
                          markup=False, soft_wrap=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
