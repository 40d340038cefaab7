"""The `shinsou` command, made from the pipeline contract: `train <pipeline>` flags are generated from each
pipeline's Config; `evaluate`, `predict`, `runs`, `explore` and `data` wrap the Python API in shinsou.api."""

from __future__ import annotations

import inspect
import os
import sys
import warnings
from pathlib import Path
from typing import Any, List, Optional

import typer
from typer.core import TyperGroup

from shinsou import __version__
from shinsou.console import clean_for_json, console, err_console, print_json
from shinsou.errors import ConfigError, Interrupted, ShinsouError
from shinsou.pipelines import PIPELINES

HELP = "shinsou (深層): train, evaluate, inspect and serve the deep-learning lecture's models on your own data."


# ------------------------------------------------------------------------------------------ generated train commands
def flag_name(field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def train_command(pipeline: str):
    """`shinsou train PIPELINE`: one option per Config field (help and default from the field), plus --config,
    --resume and --json. The function's signature is built from the dataclass, so Typer parses the flags."""
    from shinsou.engine.options import base_type, field_types
    from shinsou.pipelines import config_class

    cls = config_class(pipeline)
    hints = field_types(cls)
    params, annotations = [], {}
    for f in __import__("dataclasses").fields(cls):
        if not f.metadata.get("cli", True):
            continue
        kind, _ = base_type(hints[f.name])
        if kind not in (int, float, str, bool):
            kind = str
        default = f.default if f.default is not __import__("dataclasses").MISSING else f.default_factory()
        help_text = f.metadata.get("help", "")
        choices = f.metadata.get("choices")
        if choices and "(" not in help_text:
            help_text += f" Choices: {', '.join(map(str, choices))}."
        help_text += f" (default: {default_text(default)})"
        if kind is bool:  # --x/--no-x, or the pair the field names (flag="--stage2-freeze-bn/--stage2-train-bn")
            decls = [flag_name(f) if "/" in flag_name(f) else f"{flag_name(f)}/--no-{f.name.replace('_', '-')}"]
        else:
            decls = [flag_name(f)]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                        default=typer.Option(None, *decls, help=help_text, show_default=False)))
        annotations[f.name] = Optional[kind]
    for name, kind, decl, help_text in (
        ("config", str, "--config", "YAML file of config keys; flags override it."),
        ("resume", str, "--resume", "Continue an interrupted run directory to its planned epochs (its own config)."),
        ("as_json", bool, "--json", "Print one JSON object: run_dir, report and the test metrics."),
    ):
        default = typer.Option(False if kind is bool else None, decl, help=help_text)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default))
        annotations[name] = kind if kind is bool else Optional[kind]

    def command(**flags: Any) -> None:
        from shinsou.api import train

        config, resume, as_json = flags.pop("config"), flags.pop("resume"), flags.pop("as_json")
        given = {k: v for k, v in flags.items() if v is not None}
        if resume is not None and (given or config):
            raise ConfigError(f"--resume continues a run with its own config; drop {', '.join('--' + k.replace('_', '-') for k in given) or '--config'}")
        result = train(pipeline, config=config, resume=resume, **given)
        if result.report is None and not result.metrics:  # a DDP worker: rank 0 prints
            return
        if as_json:
            print_json({"run_dir": str(result.run_dir), "report": str(result.report) if result.report else None,
                        "metrics": result.metrics})
            return
        print_summary(result.metrics, result.main_metric)
        console.print(f"run: {result.run_dir}" + (f"\nreport: {result.report}" if result.report else ""))

    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = annotations
    command.__doc__ = (cls.__doc__ or f"Train the {pipeline} pipeline.").strip().splitlines()[0]
    command.__name__ = f"train_{pipeline}"
    return command


def default_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def print_summary(metrics: dict, main_metric: str) -> None:
    value = metrics.get(main_metric)
    if isinstance(value, (int, float)):
        n = f" on {metrics['n']} examples" if "n" in metrics else ""
        source = f" ({metrics['source']})" if metrics.get("source") else ""
        console.print(f"test {main_metric.replace('_', ' ')} [bold]{value:.4f}[/bold]{n}{source}")


# ----------------------------------------------------------------------------------------------- other verbs
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run directory written by `shinsou train`."),
    data: Optional[Path] = typer.Option(None, "--data", help="Data to evaluate on (default: the run's own test split)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Digits: an IDX image file (or a labelled Kaggle CSV)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Digits: the IDX label file that goes with --images."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (at least the main metric and `n`)."),
):
    """Measure a trained run on its test split or on other data: metrics, per-class scores, confusion matrix."""
    from shinsou.api import load

    predictor = load(run_dir)
    metrics = call_with(predictor.evaluate, data=str(data) if data else None,
                        images=str(images) if images else None, labels=str(labels) if labels else None)
    if as_json:
        print_json(metrics)
        return
    print_metrics(metrics)


def predict(
    run_dir: Path = typer.Argument(..., help="A run directory written by `shinsou train`."),
    files: List[Path] = typer.Argument(..., help="Inputs: images (PNG/JPEG...), IDX, CSV or SMILES files, as the pipeline takes."),
    invert: bool = typer.Option(False, "--invert", help="Digits: the inputs are dark ink on a light background."),
    top: int = typer.Option(3, "--top", help="Classes listed per input, most probable first."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for output images (class maps), where the pipeline makes any."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per input, in a list."),
):
    """Predict with a trained run: class and top probabilities, a value, or a class map for each input."""
    from shinsou.api import load

    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the output images")
    predictor = load(run_dir)
    records = call_with(predictor.predict, [str(f) for f in files], invert=invert, top=top if top != 3 else None)
    records = [printable(r, predictor, out, i) for i, r in enumerate(records)]
    if as_json:
        print_json(records)
        return
    console.print(predictions_table(records))
    for r in records:
        if r.get("warning"):
            err_console.print(f"warning: {r['input']}: {r['warning']}", markup=False, soft_wrap=True)


def printable(record: dict, predictor, out: Path | None, index: int) -> dict:
    """Arrays in a record (class maps, masks) become a PNG under --out (where the Predictor can render one) and
    their shape; everything else is printed as it is."""
    record = dict(record)
    if "class_map" in record:
        class_map = record.pop("class_map")
        record["class_map_shape"] = list(class_map.shape)
        if out is not None and hasattr(predictor, "render"):
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{Path(str(record.get('input', index))).stem}_labels.png"
            predictor.render(class_map).save(path)
            record["class_map_png"] = str(path)
    for item in record.get("objects", []):
        if "mask" in item:
            item["mask_pixels"] = int(item.pop("mask").sum())
    return record


def runs(
    folder: Path = typer.Argument(Path("runs"), help="A folder of run directories."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as a JSON list."),
):
    """List runs: pipeline, started, epochs done of planned, main test metric, finished or interrupted (resumable)."""
    from rich.table import Table

    from shinsou.api import runs as list_runs

    rows = list_runs(folder)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"runs in {folder}")
    for column in ("run", "pipeline", "started", "epochs", "test metric", "status"):
        table.add_column(column, overflow="fold")
    for r in rows:
        done = "" if r["epochs"] is None else f"{r['epochs']}/{r['planned']}"
        metric = f"{r['metric']} {r['value']:.4f}" if isinstance(r["value"], (int, float)) else ""
        name = Path(r["run"]).relative_to(folder) if Path(r["run"]).is_relative_to(folder) else r["run"]
        table.add_row(str(name), r["pipeline"], r["started"], done, metric, r["status"])
    console.print(table)


def explore(
    pipeline: str = typer.Argument(..., help=f"A pipeline: {', '.join(PIPELINES)}."),
    data: Optional[Path] = typer.Option(None, "--data", help="The data to look at (default: the pipeline's embedded data)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of the pipeline's config keys (as for train)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the splits (as for train)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for explore.html and its figures (default runs/explore-PIPELINE)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
):
    """A data report before training: counts, class balance or target distribution, samples, odd values, duplicates."""
    from shinsou.api import explore as explore_data

    summary = explore_data(pipeline, out=out, config=config, data=str(data) if data else None, seed=seed)
    if as_json:
        print_json(summary)
        return
    for key, value in clean_for_json(summary).items():
        if isinstance(value, (str, int, float)):
            console.print(f"{key}: {value}")


def call_with(function, *args, **options):
    """Call a Predictor method with the options the user gave; an option it does not take is one clear line."""
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    accepted = inspect.signature(function).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in accepted.values()):
        for name in given:
            if name not in accepted:
                raise ConfigError(f"--{name.replace('_', '-')} does not apply to this run's pipeline")
    return function(*args, **given)


def print_metrics(metrics: dict) -> None:
    from rich.table import Table

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


def predictions_table(records: list[dict]):
    """Classes: class, probability and runners-up; other kinds: their scalar fields as columns."""
    from rich.table import Table

    table = Table(title="predictions")
    if records and all("class" in r and "probability" in r for r in records):
        for column, justify in (("input", "left"), ("class", "left"), ("probability", "right"), ("next best", "left")):
            table.add_column(column, justify=justify)
        for r in records:
            rest = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r.get("top", [])[1:])
            table.add_row(str(r.get("input", "")), str(r["class"]), f"{r['probability']:.4f}", rest)
        return table
    columns = list(dict.fromkeys(k for r in records for k, v in r.items() if isinstance(v, (str, int, float))))
    for column in columns:
        table.add_column(column)
    for r in clean_for_json(records):
        table.add_row(*[f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in columns])
    return table


# ------------------------------------------------------------------------------------------------- the app
def interruptible(function):
    """Ctrl-C inside a command becomes `Interrupted`, which main() reports (Typer would exit 130 without a word)."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted() from None

    return wrapper


def version_callback(value: bool) -> None:
    if value:
        console.print(f"shinsou {__version__}")
        raise typer.Exit()


class LazyGroup(TyperGroup):
    """A command group whose subcommands are made when asked for: `shinsou train mnist` imports mnist's Config
    only, so every command starts fast and one broken pipeline cannot take the others down."""

    def __init__(self, *args, make: Any = None, names: Any = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.make, self.names = make, names

    def list_commands(self, ctx) -> list[str]:
        return self.names()

    def get_command(self, ctx, name: str):
        function = self.make(name) if name in self.names() else None
        if function is None:
            return None
        single = typer.Typer(add_completion=False)
        single.command(name)(interruptible(function))
        return typer.main.get_command(single)


def data_commands() -> dict[str, Any]:
    from shinsou.pipelines import pipeline_part

    found = {}
    for name in PIPELINES:
        found.update(getattr(pipeline_part(name, "commands", optional=True), "DATA_COMMANDS", {}))
    return found


def build_app():
    """The command tree, made from PIPELINES when the command runs (a pipeline added there appears everywhere)."""
    from shinsou.explain.cli import explain_app

    app = typer.Typer(name="shinsou", help=HELP, no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False)

    @app.callback()
    def main_options(version: bool = typer.Option(False, "--version", help="Print the version and exit.",
                                                  callback=version_callback, is_eager=True)):
        """shinsou (深層): train, evaluate, inspect and serve the lecture's models on your own data."""

    app.add_typer(explain_app, name="explain")
    app.command()(interruptible(evaluate))
    app.command()(interruptible(predict))
    app.command()(interruptible(runs))
    app.command()(interruptible(explore))
    group = typer.main.get_command(app)
    group.add_command(LazyGroup(name="train", no_args_is_help=True, make=train_command, names=lambda: list(PIPELINES),
                                help="Train a model. Each pipeline is a subcommand; every run writes RUN_DIR/report.html."))
    group.add_command(LazyGroup(name="data", no_args_is_help=True, make=lambda n: data_commands().get(n),
                                names=lambda: list(data_commands()),
                                help="Make data sets (generators for the embedded defaults)."))
    return group


def quiet_libraries() -> None:
    """Library warnings that are not the user's business on a normal run."""
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)  # torch_geometric import


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    quiet_libraries()
    try:
        result = build_app().main(args=argv, prog_name="shinsou", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except ShinsouError as e:
        err_console.print(f"error: {e}", markup=False, soft_wrap=True)
        return 2
    except typer.Exit as e:
        return e.exit_code
    except typer.TyperException as e:  # a usage error (unknown option, bad value): Click's usage line and message
        e.show()
        return getattr(e, "exit_code", 2)
    except (typer.Abort, KeyboardInterrupt, Interrupted):
        run_dir = os.environ.get("SHINSOU_RUN_DIR")
        if run_dir and any(Path(run_dir).rglob("train_state.pt")):
            from shinsou.engine.runs import read_status

            pipeline = read_status(Path(run_dir)).get("pipeline", "PIPELINE")
            hint = f"; the last finished epoch is saved, continue with: shinsou train {pipeline} --resume {run_dir}"
        elif run_dir:
            hint = "; no epoch had finished, nothing was kept"
        else:
            hint = ""
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
