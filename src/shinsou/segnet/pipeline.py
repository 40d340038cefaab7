"""The SegNet pipeline's entry points for `shinsou evaluate` and `shinsou predict` (training: train.py): each takes
a run directory, rebuilds the model and palette from it and works on the user's data at the run's input size."""

from __future__ import annotations

from pathlib import Path

from shinsou.engine.metrics import ConfusionMatrix
from shinsou.engine.runs import load_run_model
from shinsou.errors import DataError
from shinsou.segnet.data import SegmentationSet, load_folder_pair, load_segmentation_data
from shinsou.segnet.palette import Palette
from shinsou.segnet.predict import predict_files
from shinsou.segnet.train import make_loss, test_scores


def evaluation_set(config: dict, palette: Palette, size, data: str | None, images: str | None,
                   labels: str | None) -> SegmentationSet:
    """--images DIR --labels DIR, or the test split (val where there is none) of --data or of the run's own data."""
    if images is not None or labels is not None:
        if images is None or labels is None:
            raise DataError("--images DIR and --labels DIR go together (a folder of images and one of their masks)")
        return load_folder_pair(images, labels, palette, size)
    path = data if data is not None else config.get("data_used") or config.get("data")
    if path is None:
        raise DataError("this run records no data folder; pass --data DIR")
    found = load_segmentation_data(path, size, config.get("seed", 0), splits=("val", "test"))
    if tuple(found.palette.names) != tuple(palette.names):
        raise DataError(f"{path}: its classes ({', '.join(found.palette.names)}) are not the run's "
                        f"({', '.join(palette.names)})")
    chosen = found.test if found.test is not None else found.val
    if chosen is None:
        raise DataError(f"{path}: no test/ or val/ split to evaluate on")
    return chosen


def evaluate_run(run_dir: str | Path, data: str | None = None, images: str | None = None,
                 labels: str | None = None) -> dict:
    model, config = load_run_model(run_dir)
    palette = Palette.from_config(config)
    size = tuple(model.input_size[1:])
    test_set = evaluation_set(config, palette, size, data, images, labels)
    void = palette.void_index
    metrics = test_scores(model, test_set, make_loss(config.get("class_weights") or [1.0] * palette.num_classes, void),
                          lambda: ConfusionMatrix(palette.num_classes, ignore_index=void), config.get("tta", False))
    metrics.update(source=test_set.source, images=len(test_set), size=f"{size[0]}x{size[1]}",
                   class_names=list(palette.names), per_class_iou=dict(zip(palette.names, metrics["per_class"]["iou"])))
    return metrics


def predict_run(run_dir: str | Path, files: list[str], out: str | None = None) -> list[dict]:
    """Label maps for `files`: colour map and overlay PNGs into `out` (default RUN_DIR/predictions)."""
    model, config = load_run_model(run_dir)
    return predict_files(model, Palette.from_config(config), files, out or Path(run_dir) / "predictions",
                         flip=config.get("tta", False))
