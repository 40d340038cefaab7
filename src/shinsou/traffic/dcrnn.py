"""The DCRNN repository's METR-LA / PEMS-BAY layout (Li et al. 2018): a speed table (timestamps as rows, sensor ids as
columns; `.h5` as shipped, or the same table as CSV) plus the sensor distances `from,to,cost`, and its edge weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from shinsou.errors import DataError
from shinsou.traffic.data import (EDGES, NODES, READINGS, RoadNetwork, TrafficData, check_even_spacing,
                                         need_columns, numbers, parse_times, read_csv, show)

SENSOR_IDS, SENSOR_LOCATIONS = "graph_sensor_ids.txt", "graph_sensor_locations.csv"
DCRNN_THRESHOLD = 0.1  # DCRNN's gen_adj_mx.py drops kernel weights below this


def dcrnn_weights(costs: np.ndarray) -> np.ndarray:
    """DCRNN's gen_adj_mx.py: w = exp(-(d / std d)^2) over the listed sensor pairs (Li et al. 2018)."""
    costs = np.asarray(costs, dtype=np.float64)
    sigma = costs.std() if len(costs) and costs.std() > 0 else 1.0
    return np.exp(-((costs / sigma) ** 2))


def is_distance_csv(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            header = [h.strip() for h in f.readline().split(",")]
    except OSError:
        return False
    return {"from", "to", "cost"} <= set(header)


def find_dcrnn_files(folder: Path) -> tuple[Path, Path]:
    distances = sorted(p for p in folder.glob("*.csv") if is_distance_csv(p))
    speeds = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".h5", ".hdf5", ".csv")
                    and p not in distances and p.name != SENSOR_LOCATIONS)
    if not speeds or not distances:
        raise DataError(f"{folder}: not a traffic data folder (expected {NODES}, {EDGES}, {READINGS}, or a METR-LA/PEMS-BAY "
                        "speed table (.h5 or .csv) with a distances CSV whose columns are from,to,cost)")
    if len(speeds) > 1:
        raise DataError(f"{folder}: more than one speed table ({', '.join(p.name for p in speeds)}); pass the one to use as --data FILE")
    return speeds[0], distances[0]


def read_speed_table(path: Path) -> tuple[pd.DatetimeIndex, list[str], np.ndarray]:
    """DCRNN's speed table: rows are timestamps, columns sensor ids. `.h5` as the repo ships it (needs PyTables),
    or the same table as CSV (`pd.read_hdf(h5).to_csv(csv)`): first column the timestamp, header the sensor ids."""
    if path.suffix.lower() in (".h5", ".hdf5"):
        try:
            table = pd.read_hdf(path)
        except ImportError:
            raise DataError(f"{path}: reading HDF5 needs PyTables, which shinsou does not install; convert it once with "
                            f"pandas.read_hdf('{path.name}').to_csv('{path.stem}.csv') where PyTables is installed, "
                            "and pass the CSV") from None
        except (OSError, ValueError, KeyError) as e:
            raise DataError(f"{path}: not a readable HDF5 speed table ({str(e).splitlines()[0]})") from None
        return speed_table_from_frame(table, path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    with open(path, encoding="utf-8", errors="replace") as f:
        header = [h.strip() for h in f.readline().rstrip("\n").split(",")][1:]
    raw = read_csv(path, dtype=str, keep_default_na=False)
    return _speed_table(path, header, raw.iloc[:, 0].str.strip(), raw.iloc[:, 1:], first_line=2)


def speed_table_from_frame(table: pd.DataFrame, source) -> tuple[pd.DatetimeIndex, list[str], np.ndarray]:
    """The speed table as a DataFrame (what `pd.read_hdf` gives): timestamps as the index (or a `timestamp` column),
    one column per sensor."""
    if "timestamp" in table.columns and not isinstance(table.index, pd.DatetimeIndex):
        table = table.set_index("timestamp")
    stamps = pd.Series(table.index.astype(str)).str.strip()
    return _speed_table(source, [str(c).strip() for c in table.columns], stamps, table, first_line=None)


def _speed_table(path, header: list[str], stamps: pd.Series, raw: pd.DataFrame,
                 first_line: int | None) -> tuple[pd.DatetimeIndex, list[str], np.ndarray]:
    seen: dict[str, int] = {}
    for i, sensor in enumerate(header):
        if sensor in seen:
            raise DataError(f"{path}: duplicate sensor id {sensor!r} (columns {seen[sensor] + 2} and {i + 2})")
        seen[sensor] = i
    if not header or len(raw) == 0:
        raise DataError(f"{path}: no sensors or no readings")
    values = raw.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = (int(v[0]) for v in np.nonzero(bad))
        raise DataError(f"{path}: reading for sensor {header[c]!r} at {stamps.iloc[r]} is not a number "
                        f"({show(raw.iloc[r, c])})")
    timestamps = parse_times(stamps, path, first_line)
    check_even_spacing(timestamps, path)
    return timestamps, header, values.astype(np.float32)


def read_distances(path: Path, ids: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """DCRNN's sensor distances `from,to,cost`: it lists a whole district, so pairs naming sensors outside the
    speed table are skipped (as gen_adj_mx.py does) and counted; weights below 0.1 dropped as DCRNN drops them."""
    frame = read_csv(path, dtype=str, keep_default_na=False)
    need_columns(frame, path, ("from", "to", "cost"))
    known = set(ids)
    src, dst = frame["from"].str.strip(), frame["to"].str.strip()
    inside = (src.isin(known) & dst.isin(known)).to_numpy()
    notes = []
    if (~inside).any():
        notes.append(f"{path.name}: {int((~inside).sum())} of {len(frame)} rows name sensors outside the speed table and were skipped")
    frame = frame[inside].reset_index(drop=True)
    costs = numbers(frame, "cost", path, "cost", non_negative=True) if len(frame) else np.zeros(0)
    weights = dcrnn_weights(costs)
    index = {n: i for i, n in enumerate(ids)}
    pairs = np.array([[index[a], index[b]] for a, b in zip(frame["from"].str.strip(), frame["to"].str.strip())],
                     dtype=np.int64).reshape(-1, 2)
    keep = (pairs[:, 0] != pairs[:, 1]) & (weights >= DCRNN_THRESHOLD)
    if (pairs[:, 0] == pairs[:, 1]).any():
        notes.append(f"{path.name}: {int((pairs[:, 0] == pairs[:, 1]).sum())} self-distances left to the GCN's self loops")
    weak = (pairs[:, 0] != pairs[:, 1]) & (weights < DCRNN_THRESHOLD)
    if weak.any():
        notes.append(f"{path.name}: {int(weak.sum())} pairs with kernel weight below {DCRNN_THRESHOLD} dropped, as DCRNN does")
    pairs, costs, weights = pairs[keep], costs[keep], weights[keep]
    # the same pair listed twice: the last row wins, as DCRNN's matrix fill does
    _, last = np.unique(pairs[::-1], axis=0, return_index=True)
    chosen = np.sort(len(pairs) - 1 - last)
    if len(chosen) < len(pairs):
        notes.append(f"{path.name}: {len(pairs) - len(chosen)} repeated pairs, the last row of each kept")
    if len(chosen) == 0:
        raise DataError(f"{path}: no edges between the speed table's sensors (a road network needs at least one)")
    return pairs[chosen], np.column_stack([costs[chosen], weights[chosen]]), notes


def read_dcrnn_layout(speeds: Path, distances: Path) -> TrafficData:
    timestamps, sensors, values = read_speed_table(speeds)
    ids_file = speeds.parent / SENSOR_IDS
    order = sensors
    if ids_file.exists():  # DCRNN's graph_sensor_ids.txt fixes the node order
        order = [s.strip() for s in ids_file.read_text().replace("\n", ",").split(",") if s.strip()]
        missing = [s for s in order if s not in set(sensors)]
        if missing:
            raise DataError(f"{ids_file}: sensor {missing[0]!r} has no column in {speeds.name}")
        values = values[:, [sensors.index(s) for s in order]]
    pairs, cost_weight, notes = read_distances(distances, order)
    positions = None
    locations = speeds.parent / SENSOR_LOCATIONS
    if locations.exists():
        frame = read_csv(locations, dtype=str, keep_default_na=False)
        if {"sensor_id", "latitude", "longitude"} <= set(frame.columns):
            where = {s.strip(): (float(lon), float(lat)) for s, lat, lon in
                     zip(frame["sensor_id"], frame["latitude"], frame["longitude"])}
            if all(s in where for s in order):
                positions = np.array([where[s] for s in order])
    net = RoadNetwork(order, positions, pairs, cost_weight[:, 0], cost_weight[:, 1], directed=True)
    unit = "mph" if "metr" in speeds.name.lower() or "pems" in speeds.name.lower() else ""
    return TrafficData(net, timestamps, values, str(speeds), unit, notes)
