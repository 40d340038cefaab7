"""digits8's data report: counts, class balance per split and samples."""

from __future__ import annotations

from shinsou.engine.explore import balance_table, content_hashes, duplicates_across, write_explore
from shinsou.engine.report import Section, figure_path, image_grid

from digits8.data import CLASS_NAMES, splits


def explore(cfg, out) -> dict:
    data = splits(cfg.seed)
    (x, y), (x_test, y_test) = data["train"], data["test"]
    grid = image_grid(list(x[:16]), [CLASS_NAMES[k] for k in y[:16]], figure_path(out, "samples.png"))
    summary = {"train images": len(y), "test images": len(y_test),
               "test images also in train": duplicates_across(content_hashes(x), content_hashes(x_test))}
    return write_explore(out, "digits8", summary, [Section("Balance", tables=[balance_table(y, CLASS_NAMES)]),
                                                   Section("Samples", figures=[grid])])
