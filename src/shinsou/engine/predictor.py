"""The loaded-once half of the pipeline contract: what `shinsou.load(run_dir)` returns. Every pipeline's
predictor module offers `load(run_dir) -> Predictor`; this module holds the protocol and what all of them share."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

from shinsou.errors import DataError


@runtime_checkable
class Predictor(Protocol):
    """A trained run with every artifact loaded once. `predict` is pure: it prints nothing, writes nothing and
    reloads nothing; inputs are file paths or already-decoded objects (arrays, PIL images, rows, strings, bytes)."""

    run_dir: Path
    config: dict

    def predict(self, inputs: Sequence[Any], **options: Any) -> list[dict]: ...

    def evaluate(self, data: str | None = None, **options: Any) -> dict: ...

    def example_input(self) -> Any: ...


def as_list(inputs: Any) -> list:
    """One input or several -> a list (a lone path, string, bytes or array is one input, not a sequence of them)."""
    if isinstance(inputs, (list, tuple)):
        return list(inputs)
    return [inputs]


def input_name(item: Any, index: int) -> str:
    """What a record's `input` says: the path for files, else the position in the batch."""
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    return f"#{index}"


def check_class_names(run_names: Sequence[str], data_names: Sequence[str] | None, source: str) -> None:
    """Evaluation data must name the classes the run was trained on; a digit run scored on Fashion-MNIST is refused."""
    if data_names is None:
        return
    if list(map(str, data_names)) != list(map(str, run_names)):
        shown = lambda names: ", ".join(map(str, list(names)[:6])) + (", ..." if len(names) > 6 else "")  # noqa: E731
        raise DataError(f"{source}: classes ({shown(data_names)}) differ from the run's ({shown(run_names)}); "
                        f"evaluate on data labelled like the training data")
