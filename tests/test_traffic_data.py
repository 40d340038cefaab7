"""Traffic data: shinsou's CSV layout and the DCRNN METR-LA/PEMS-BAY layout on tiny hand-written files, edge weights
computed by hand, the chronological split and the forecast windows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from shinsou.errors import DataError
from shinsou.traffic.data import load_traffic_data, write_csv_layout
from shinsou.traffic.simulator import SimulatorConfig, simulate
from shinsou.traffic.windows import WindowBatches, gather_windows, model_inputs, split_series, window_ends


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def csv_layout(folder):
    write(folder, "nodes.csv", "id,x,y\nA,0,0\nB,1,0\nC,1,1\n")
    write(folder, "edges.csv", "source,target,length\nA,B,1.0\nB,C,3.0\n")
    # rows in any order: the loader pivots them into (timestamp, node)
    write(folder, "readings.csv", "timestamp,node,value\n"
          "2024-01-01 00:05,B,41\n2024-01-01 00:00,A,50\n2024-01-01 00:00,B,40\n2024-01-01 00:00,C,30\n"
          "2024-01-01 00:05,A,51\n2024-01-01 00:05,C,31\n2024-01-01 00:10,A,52\n2024-01-01 00:10,B,42\n"
          "2024-01-01 00:10,C,32\n")
    return folder


def test_csv_layout(tmp_path):
    data = load_traffic_data(csv_layout(tmp_path / "net"))
    assert data.network.node_ids == ["A", "B", "C"]
    assert data.values.tolist() == [[50, 40, 30], [51, 41, 31], [52, 42, 32]]
    assert [str(t) for t in data.timestamps] == ["2024-01-01 00:00:00", "2024-01-01 00:05:00", "2024-01-01 00:10:00"]
    assert data.steps_per_day == 288 and data.slots().tolist() == [0, 1, 2]
    assert data.network.positions.tolist() == [[0, 0], [1, 0], [1, 1]]
    # segments carry traffic both ways; weight exp(-(d / mean d)^2) with mean length 2
    edge_index, weights = data.network.edge_index()
    assert edge_index.tolist() == [[0, 1, 1, 2], [1, 2, 0, 1]]
    assert np.allclose(weights, [math.exp(-0.25), math.exp(-2.25)] * 2)


def test_reordering_nodes_keeps_edges_and_columns_together(tmp_path):
    data = load_traffic_data(csv_layout(tmp_path / "net")).subset_nodes(["C", "A", "B"])
    assert data.network.node_ids == ["C", "A", "B"]
    assert data.values[0].tolist() == [30, 50, 40]
    assert data.network.edges.tolist() == [[1, 2], [2, 0]]  # A-B and B-C under the new numbering
    assert data.network.positions.tolist() == [[1, 1], [0, 0], [1, 0]]
    with pytest.raises(DataError, match="no readings for node 'D', which the trained network has"):
        data.subset_nodes(["A", "B", "C", "D"])


def dcrnn_layout(folder):
    write(folder, "metr-la.csv", ",101,102,103\n"
          "2012-03-01 00:00:00,64.4,62.1,60.0\n2012-03-01 00:05:00,64.0,61.5,59.0\n2012-03-01 00:10:00,63.2,60.0,58.5\n")
    write(folder, "distances_la_2012.csv", "from,to,cost\n101,102,1000.0\n102,101,1200.0\n102,103,5000.0\n"
          "103,999,10.0\n101,101,0.0\n")
    return folder


def test_dcrnn_layout(tmp_path):
    data = load_traffic_data(dcrnn_layout(tmp_path / "metr"))
    assert data.network.node_ids == ["101", "102", "103"] and data.network.directed
    assert data.values[:, 0].tolist() == pytest.approx([64.4, 64.0, 63.2])
    assert data.unit == "mph"
    # DCRNN's gen_adj_mx: sigma = std of the listed distances among known sensors (self pair included),
    # w = exp(-(d / sigma)^2), weights under 0.1 dropped (here 102 -> 103 at 5,000 m)
    sigma = np.std([1000.0, 1200.0, 5000.0, 0.0])
    assert data.network.edges.tolist() == [[0, 1], [1, 0]]
    assert data.network.weights == pytest.approx(np.exp(-(np.array([1000.0, 1200.0]) / sigma) ** 2))
    assert math.exp(-(5000 / sigma) ** 2) < 0.1
    assert data.notes == ["distances_la_2012.csv: 1 of 5 rows name sensors outside the speed table and were skipped",
                          "distances_la_2012.csv: 1 self-distances left to the GCN's self loops",
                          "distances_la_2012.csv: 1 pairs with kernel weight below 0.1 dropped, as DCRNN does"]


def test_dcrnn_sensor_order_and_speed_file_with_distances(tmp_path):
    folder = dcrnn_layout(tmp_path / "metr")
    write(folder, "graph_sensor_ids.txt", "103,101,102")
    data = load_traffic_data(folder)
    assert data.network.node_ids == ["103", "101", "102"]
    assert data.values[0].tolist() == pytest.approx([60.0, 64.4, 62.1])
    assert data.network.edges.tolist() == [[1, 2], [2, 1]]
    # the speed table as a file, with --distances naming the distance CSV
    direct = load_traffic_data(folder / "metr-la.csv", folder / "distances_la_2012.csv")
    assert direct.network.node_ids == ["103", "101", "102"]


def test_hdf5_without_pytables_says_how_to_convert(tmp_path):
    try:
        import tables  # noqa: F401
        pytest.skip("PyTables is installed here")
    except ImportError:
        pass
    folder = tmp_path / "pems"
    write(folder, "pems-bay.h5", "not really HDF5")
    write(folder, "distances_bay_2017.csv", "from,to,cost\n1,2,3.0\n")
    with pytest.raises(DataError) as error:
        load_traffic_data(folder)
    assert str(error.value) == (f"{folder / 'pems-bay.h5'}: reading HDF5 needs PyTables, which shinsou does not install; "
                                "convert it once with pandas.read_hdf('pems-bay.h5').to_csv('pems-bay.csv') where PyTables "
                                "is installed, and pass the CSV")


def test_written_layout_reads_back(tmp_path):
    sim = simulate(SimulatorConfig(nodes=4, days=1, seed=5))
    write_csv_layout(sim.data, tmp_path / "sim", sim.incidents)
    back = load_traffic_data(tmp_path / "sim")
    assert back.network.node_ids == sim.data.network.node_ids
    assert np.array_equal(back.network.edges, sim.data.network.edges)
    assert np.allclose(back.network.lengths, sim.data.network.lengths)
    assert np.allclose(back.values, sim.data.values, atol=0.051)
    assert (back.timestamps == sim.data.timestamps).all()
    assert (tmp_path / "sim" / "incidents.csv").exists()


def test_split_in_whole_days_or_fractions():
    split = split_series(12 * 288, 288, 12, 12)
    assert split.whole_days
    assert split.train == (0, 9 * 288) and split.val == (9 * 288, 10 * 288) and split.test == (10 * 288, 12 * 288)
    short = split_series(100, 288, 3, 2)
    assert not short.whole_days and short.train == (0, 70) and short.val == (70, 80) and short.test == (80, 100)


def test_windows_shapes_and_contents():
    values = np.arange(20, dtype=np.float32).reshape(10, 2)  # (T=10, N=2)
    stamps = pd.date_range("2024-01-06 00:00", periods=10, freq="5min")  # a Saturday
    inputs, targets = model_inputs(values, stamps, mean=1.0, std=2.0)
    assert inputs.shape == (10, 2, 4) and targets.shape == (10, 2)
    assert torch.allclose(inputs[:, :, 0], (torch.from_numpy(values) - 1) / 2)
    assert torch.allclose(inputs[0, 0, 1:], torch.tensor([0.0, 1.0, 1.0]))  # sin, cos of midnight; weekend
    ends = window_ends((0, 10), window=3, horizon=2)
    assert ends.tolist() == [2, 3, 4, 5, 6, 7]
    x, y = gather_windows(inputs, targets, torch.from_numpy(ends), 3, 2)
    assert x.shape == (6, 3, 2, 4) and y.shape == (6, 2, 2)
    assert torch.equal(x[0, :, :, 0], targets[0:3]) and torch.equal(y[0], targets[3:5])
    assert torch.equal(x[5, -1], inputs[7]) and torch.equal(y[5], targets[8:10])
    batches = WindowBatches(inputs, targets, ends, 3, 2, batch_size=4, shuffle=True, seed=1)
    first = [y for _, y in batches]
    assert len(batches) == 2 and [len(y) for y in first] == [4, 2]
    assert all(torch.equal(a, b) for a, b in zip(first, [y for _, y in batches]))  # same epoch, same order
    seen = torch.cat([y[:, 0] for y in first])
    assert sorted(seen[:, 0].tolist()) == sorted(targets[ends + 1, 0].tolist())
