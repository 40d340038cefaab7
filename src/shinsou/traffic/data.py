"""Traffic data: a road network plus a speed per node per timestamp, and shinsou's CSV layout for it (nodes.csv,
edges.csv, readings.csv); `load_traffic_data` also reads the METR-LA / PEMS-BAY layout (dcrnn.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shinsou.errors import DataError

NODES, EDGES, READINGS = "nodes.csv", "edges.csv", "readings.csv"
TRAINED_NETWORK = "the network the run was trained on"


@dataclass
class RoadNetwork:
    node_ids: list[str]
    positions: np.ndarray | None  # (N, 2) x, y (or longitude, latitude) for drawing; None when unknown
    edges: np.ndarray  # (E, 2) node indices: source, target
    lengths: np.ndarray  # (E,) road length (or the distance table's cost)
    weights: np.ndarray  # (E,) in (0, 1], a Gaussian kernel of the length
    directed: bool = False  # False: each segment carries traffic both ways

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)

    def edge_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(2, E') message-passing edges and their (E',) weights; an undirected segment gives both directions."""
        edges, weights = self.edges, self.weights
        if not self.directed:
            edges = np.concatenate([edges, edges[:, ::-1]])
            weights = np.concatenate([weights, weights])
        return np.ascontiguousarray(edges.T), weights.astype(np.float32)


@dataclass
class TrafficData:
    network: RoadNetwork
    timestamps: pd.DatetimeIndex  # (T,) evenly spaced
    values: np.ndarray  # (T, N) float32 speeds, columns in network.node_ids order
    source: str
    unit: str = ""
    notes: list[str] = field(default_factory=list)  # what the loader skipped, so that nothing goes silently

    @property
    def step(self) -> pd.Timedelta:
        return self.timestamps[1] - self.timestamps[0]

    @property
    def steps_per_day(self) -> int:
        return steps_per_day(self.step)

    def slots(self) -> np.ndarray:
        return time_slots(self.timestamps, self.step)

    def weekend(self) -> np.ndarray:
        return weekend_flags(self.timestamps)

    def subset_nodes(self, node_ids: list[str]) -> "TrafficData":
        """The same data with columns in `node_ids` order (a run's network); other nodes are an error."""
        index = {n: i for i, n in enumerate(self.network.node_ids)}
        missing = [n for n in node_ids if n not in index]
        if missing:
            raise DataError(f"{self.source}: no readings for node {missing[0]!r}, which the trained network has")
        extra = [n for n in self.network.node_ids if n not in set(node_ids)]
        if extra:
            raise DataError(f"{self.source}: node {extra[0]!r} is not in the network the run was trained on")
        order = np.array([index[n] for n in node_ids], dtype=np.int64)
        position = np.empty_like(order)
        position[order] = np.arange(len(order))  # old index -> new index
        net = self.network
        network = RoadNetwork(list(node_ids), None if net.positions is None else net.positions[order],
                              position[net.edges], net.lengths, net.weights, net.directed)
        return TrafficData(network, self.timestamps, self.values[:, order], self.source, self.unit, self.notes)


def segment_weights(lengths: np.ndarray) -> np.ndarray:
    """Road segments (shinsou layout): w = exp(-(d / mean d)^2), so a segment of average length weighs 0.37."""
    lengths = np.asarray(lengths, dtype=np.float64)
    sigma = lengths.mean() if len(lengths) and lengths.mean() > 0 else 1.0
    return np.exp(-((lengths / sigma) ** 2))


def steps_per_day(step: pd.Timedelta) -> int:
    return max(1, int(round(pd.Timedelta(days=1) / step)))


def time_slots(timestamps: pd.DatetimeIndex, step: pd.Timedelta) -> np.ndarray:
    """(T,) index of each reading's time of day: 0 .. steps_per_day - 1."""
    seconds = (timestamps - timestamps.normalize()).total_seconds().to_numpy()
    return (np.round(seconds / step.total_seconds()).astype(np.int64)) % steps_per_day(step)


def weekend_flags(timestamps: pd.DatetimeIndex) -> np.ndarray:
    """(T,) True on Saturdays and Sundays."""
    return np.asarray(timestamps.day_of_week >= 5)


def load_traffic_data(path: str | os.PathLike, distances: str | os.PathLike | None = None) -> TrafficData:
    """A folder in shinsou's layout (nodes.csv, edges.csv, readings.csv), a folder in the DCRNN layout
    (speed table .csv/.h5 + distances CSV), or a speed table file with `distances` naming its distance CSV."""
    from shinsou.traffic.dcrnn import find_dcrnn_files, is_distance_csv, read_dcrnn_layout

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir() and (path / READINGS).exists():
        return read_csv_layout(path)
    if path.is_dir():
        speeds, found = find_dcrnn_files(path)
        return read_dcrnn_layout(speeds, Path(distances) if distances else found)
    if distances is None:
        candidates = [p for p in path.parent.glob("*.csv") if p != path and is_distance_csv(p)]
        if not candidates:
            raise DataError(f"{path}: a speed table needs its sensor distances (--distances FILE with columns from,to,cost)")
        distances = candidates[0]
    return read_dcrnn_layout(path, Path(distances))


def read_csv(path: Path, **options) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, skipinitialspace=True, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"{path}: not a readable CSV ({str(e).splitlines()[0]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def need_columns(frame: pd.DataFrame, path: Path, names: tuple[str, ...]) -> None:
    for name in names:
        if name not in frame.columns:
            raise DataError(f"{path}: no {name!r} column (columns: {', '.join(frame.columns)}; expected {', '.join(names)})")


def numbers(frame: pd.DataFrame, column: str, path: Path, what: str, non_negative: bool = False) -> np.ndarray:
    """A numeric column; the first non-number (or negative value) is reported with its line number."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | ((values < 0) if non_negative else False)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        need = "a non-negative number" if non_negative else "a number"
        raise DataError(f"{path} line {i + 2}: {what} must be {need}, got {show(raw.iloc[i])}")
    return values


def show(value) -> str:
    return "an empty value" if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "" else repr(str(value))


def read_nodes(path: Path) -> tuple[list[str], np.ndarray | None]:
    """nodes.csv: `id` plus optional `x`, `y` (used only to draw the network)."""
    frame = read_csv(path, dtype=str, keep_default_na=False)
    need_columns(frame, path, ("id",))
    ids = [s.strip() for s in frame["id"]]
    if not ids:
        raise DataError(f"{path}: no nodes")
    first: dict[str, int] = {}
    for i, node in enumerate(ids):
        if node == "":
            raise DataError(f"{path} line {i + 2}: empty node id")
        if node in first:
            raise DataError(f"{path}: duplicate node id {node!r} (lines {first[node] + 2} and {i + 2})")
        first[node] = i
    positions = None
    if "x" in frame.columns and "y" in frame.columns:
        positions = np.stack([numbers(frame, "x", path, "x"), numbers(frame, "y", path, "y")], 1)
    return ids, positions


def _edge_table(frame: pd.DataFrame, path: Path, ids: list[str], source: str, target: str, length: str,
                what: str) -> tuple[np.ndarray, np.ndarray]:
    index = {n: i for i, n in enumerate(ids)}
    src = [s.strip() for s in frame[source].astype(str)]
    dst = [s.strip() for s in frame[target].astype(str)]
    for i, (a, b) in enumerate(zip(src, dst)):
        for node in (a, b):
            if node not in index:
                raise DataError(f"{path} line {i + 2}: edge names unknown node {node!r} (not in {what})")
        if a == b:
            raise DataError(f"{path} line {i + 2}: edge from node {a!r} to itself")
    lengths = numbers(frame, length, path, length, non_negative=True)
    return np.array([[index[a], index[b]] for a, b in zip(src, dst)], dtype=np.int64).reshape(-1, 2), lengths


def read_edges(path: Path, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """edges.csv: `source`, `target`, `length` (one row per road segment, traffic both ways)."""
    frame = read_csv(path, dtype=str, keep_default_na=False)
    need_columns(frame, path, ("source", "target", "length"))
    if len(frame) == 0:
        raise DataError(f"{path}: no edges (a road network needs at least one road segment)")
    return _edge_table(frame, path, ids, "source", "target", "length", NODES)


def row_name(source, i: int, first_line: int | None = 2) -> str:
    """Where row i is: `FILE line N` in a CSV (the header is line 1), `NAME row i` in a DataFrame (first_line None)."""
    return f"{source} row {i}" if first_line is None else f"{source} line {i + first_line}"


def parse_times(raw: pd.Series, path: Path, first_line: int | None = 2) -> pd.DatetimeIndex:
    times = pd.to_datetime(raw, errors="coerce", format="ISO8601")
    if times.isna().any():  # not ISO 8601 throughout: let pandas guess the format
        times = pd.to_datetime(raw, errors="coerce", format="mixed")
    if times.isna().any():
        i = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise DataError(f"{row_name(path, i, first_line)}: cannot read timestamp {show(raw.iloc[i])}")
    return pd.DatetimeIndex(times)


def check_even_spacing(timestamps: pd.DatetimeIndex, path: Path) -> None:
    """Forecasting steps through time in fixed steps: duplicate, unsorted or uneven timestamps are an error."""
    if len(timestamps) < 2:
        raise DataError(f"{path}: fewer than 2 timestamps; a time series needs more")
    gaps = pd.TimedeltaIndex(timestamps[1:] - timestamps[:-1])
    if (gaps <= pd.Timedelta(0)).any():
        i = int(np.flatnonzero(gaps <= pd.Timedelta(0))[0])
        raise DataError(f"{path}: timestamps are not increasing ({timestamps[i + 1]} follows {timestamps[i]})")
    step = gaps.sort_values()[len(gaps) // 2]  # the usual step (a median that is one of the gaps)
    bad = np.flatnonzero(gaps != step)
    if len(bad):
        i = int(bad[0])
        raise DataError(f"{path}: timestamps are not evenly spaced ({timestamps[i + 1]} follows {timestamps[i]}; "
                        f"the series steps by {_duration(step)})")


def _duration(step: pd.Timedelta) -> str:
    minutes = step.total_seconds() / 60
    return f"{minutes:g} min" if minutes >= 1 and minutes == int(minutes) else str(step)


def read_readings(path: Path, ids: list[str]) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """readings.csv: `timestamp`, `node`, `value`, one row per node and timestamp (long format)."""
    return readings_from_frame(read_csv(path, dtype=str, keep_default_na=False), path, ids)


def readings_from_frame(frame: pd.DataFrame, path, ids: list[str], first_line: int | None = 2,
                        known_from: str = NODES) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Long readings (`timestamp`, `node`, `value` rows, as read from readings.csv or given as a DataFrame) ->
    (T,) timestamps and (T, N) values in `ids` order; every node needs a reading at every, evenly spaced, timestamp."""
    need_columns(frame, path, ("timestamp", "node", "value"))
    if len(frame) == 0:
        raise DataError(f"{path}: no readings")
    frame = frame.reset_index(drop=True)
    nodes = frame["node"].astype(str).str.strip()
    stamps = frame["timestamp"].astype(str).str.strip()
    known = nodes.isin(set(ids)).to_numpy()
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise DataError(f"{row_name(path, i, first_line)}: reading for unknown node {nodes.iloc[i]!r} (not in {known_from})")
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{row_name(path, i, first_line)}: reading for node {nodes.iloc[i]!r} at {stamps.iloc[i]} "
                        f"is not a number ({show(frame['value'].iloc[i])})")
    times = parse_times(stamps, path, first_line)
    long = pd.DataFrame({"timestamp": times, "node": nodes.to_numpy(), "value": values})
    dup = long.duplicated(["timestamp", "node"]).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(f"{row_name(path, i, first_line)}: a second reading for node {nodes.iloc[i]!r} at {times[i]}")
    table = long.pivot(index="timestamp", columns="node", values="value").sort_index()
    for node in ids:
        if node not in table.columns:
            raise DataError(f"{path}: node {node!r} has no readings")
    table = table[ids]
    holes = table.isna().to_numpy()
    if holes.any():
        r, c = (int(v[0]) for v in np.nonzero(holes))
        raise DataError(f"{path}: node {ids[c]!r} has no reading at {table.index[r]} "
                        f"(every node needs a reading at every timestamp)")
    timestamps = pd.DatetimeIndex(table.index)
    check_even_spacing(timestamps, path)
    return timestamps, table.to_numpy(dtype=np.float32)


def read_csv_layout(folder: Path) -> TrafficData:
    ids, positions = read_nodes(folder / NODES)
    edges, lengths = read_edges(folder / EDGES, ids)
    timestamps, values = read_readings(folder / READINGS, ids)
    net = RoadNetwork(ids, positions, edges, lengths, segment_weights(lengths), directed=False)
    return TrafficData(net, timestamps, values, str(folder))


def read_series_file(path: Path, node_ids: list[str]) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Readings alone, for forecasting with a trained network: a data folder, readings.csv (long) or a speed table (wide)."""
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        data = load_traffic_data(path).subset_nodes(node_ids)
        return data.timestamps, data.values
    with open(path, encoding="utf-8", errors="replace") as f:
        header = [h.strip() for h in f.readline().split(",")]
    if {"timestamp", "node", "value"} <= set(header):
        return readings_from_frame(read_csv(path, dtype=str, keep_default_na=False), path, node_ids,
                                   known_from=TRAINED_NETWORK)
    from shinsou.traffic.dcrnn import read_speed_table

    return _in_order(*read_speed_table(path), node_ids, str(path))


def read_series_frame(frame: pd.DataFrame, node_ids: list[str], name: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The same readings as a DataFrame: long (`timestamp`, `node`, `value` columns) or wide (timestamps by sensor)."""
    frame = frame.rename(columns=lambda c: str(c).strip())
    if {"timestamp", "node", "value"} <= set(frame.columns):
        return readings_from_frame(frame, name, node_ids, first_line=None,
                                   known_from=TRAINED_NETWORK)
    from shinsou.traffic.dcrnn import speed_table_from_frame

    return _in_order(*speed_table_from_frame(frame, name), node_ids, name)


def _in_order(timestamps: pd.DatetimeIndex, sensors: list[str], values: np.ndarray, node_ids: list[str],
              source: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """A speed table's columns in the run's node order (a sensor missing or extra is an error)."""
    data = TrafficData(RoadNetwork(sensors, None, np.zeros((0, 2), np.int64), np.zeros(0), np.zeros(0)),
                       timestamps, values, source)
    data = data.subset_nodes(node_ids)
    return data.timestamps, data.values


def write_csv_layout(data: TrafficData, folder: str | os.PathLike, incidents: list[dict] | None = None) -> Path:
    """Write nodes.csv, edges.csv, readings.csv (and incidents.csv, the simulator's ground truth, if given)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    net = data.network
    nodes = pd.DataFrame({"id": net.node_ids})
    if net.positions is not None:
        nodes["x"], nodes["y"] = net.positions[:, 0], net.positions[:, 1]
    nodes.to_csv(folder / NODES, index=False)
    pd.DataFrame({"source": [net.node_ids[a] for a in net.edges[:, 0]],
                  "target": [net.node_ids[b] for b in net.edges[:, 1]],
                  "length": net.lengths}).to_csv(folder / EDGES, index=False)
    t, n = data.values.shape
    readings = pd.DataFrame({"timestamp": np.repeat(data.timestamps.strftime("%Y-%m-%d %H:%M:%S").to_numpy(), n),
                             "node": np.tile(np.array(net.node_ids), t), "value": data.values.reshape(-1)})
    readings.to_csv(folder / READINGS, index=False, float_format="%.1f")
    if incidents is not None:
        pd.DataFrame(incidents, columns=["node", "start", "minutes", "capacity_factor"]).to_csv(folder / "incidents.csv", index=False)
    return folder


def load_source(data: str | None, distances: str | None = None, sim_nodes: int = 36, sim_days: int = 28,
                sim_seed: int = 0) -> TrafficData:
    """A run's data: the files at `data`, or (None) the simulator's network with these settings."""
    if data is None:
        from shinsou.traffic.simulator import SimulatorConfig, simulate

        return simulate(SimulatorConfig(nodes=sim_nodes, days=sim_days, seed=sim_seed)).data
    return load_traffic_data(data, distances)
