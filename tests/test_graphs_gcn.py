"""The GCN layer and models: one GCN layer on a hand-built 4-node graph equals D^-1/2 (A+I) D^-1/2 X W computed by
hand with numpy (Kipf & Welling 2017, eq. 2); the node and graph models' shapes, head API and example inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from shinsou.graphs.gcn import GCNGraphModel, GCNNodeClassifier, gcn_graph, gcn_node

# a path 0-1-2 plus the edge 1-3: node 1 has degree 3
EDGES = [(0, 1), (1, 2), (1, 3)]


def four_node_graph(weights=None) -> Data:
    src = [a for a, b in EDGES] + [b for a, b in EDGES]
    dst = [b for a, b in EDGES] + [a for a, b in EDGES]
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]])
    data = Data(x=x, edge_index=torch.tensor([src, dst]))
    if weights is not None:
        data.edge_weight = torch.tensor(weights + weights, dtype=torch.float32)
    return data


def hand_propagation(x: np.ndarray, w: np.ndarray, weights=(1.0, 1.0, 1.0)) -> np.ndarray:
    a = np.zeros((4, 4))
    for (i, j), v in zip(EDGES, weights):
        a[i, j] = a[j, i] = v
    a_hat = a + np.eye(4)
    d = np.diag(1 / np.sqrt(a_hat.sum(1)))
    return d @ a_hat @ d @ x @ w


def test_gcn_layer_equals_symmetric_normalised_propagation():
    from torch_geometric.nn import GCNConv

    torch.manual_seed(0)
    conv = GCNConv(2, 3, bias=False)
    data = four_node_graph()
    out = conv(data.x, data.edge_index).detach().numpy()
    w = conv.lin.weight.detach().numpy().T  # (2, 3): PyG stores W transposed, as nn.Linear does
    expected = hand_propagation(data.x.numpy(), w)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # by hand for node 0: degrees with self-loops are 2, 4, 2, 2; row 0 mixes x0/2 and x1/sqrt(8)
    np.testing.assert_allclose(out[0], (data.x[0].numpy() / 2 + data.x[1].numpy() / np.sqrt(8)) @ w, rtol=1e-5)


def test_gcn_layer_with_edge_weights():
    from torch_geometric.nn import GCNConv

    torch.manual_seed(1)
    conv = GCNConv(2, 2, bias=False)
    data = four_node_graph(weights=[2.0, 0.5, 1.0])
    out = conv(data.x, data.edge_index, data.edge_weight).detach().numpy()
    expected = hand_propagation(data.x.numpy(), conv.lin.weight.detach().numpy().T, (2.0, 0.5, 1.0))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_node_classifier_is_two_propagations():
    """Kipf & Welling's model: softmax(Â ReLU(Â X W0) W1); dropout off in eval mode."""
    torch.manual_seed(2)
    model = GCNNodeClassifier(2, 3, hidden=[4], dropout=0.5).eval()
    data = four_node_graph()
    x = data.x.numpy()
    h = np.maximum(hand_propagation(x, model.convs[0].lin.weight.detach().numpy().T) + model.convs[0].bias.detach().numpy(), 0)
    logits = hand_propagation(h, model.head.lin.weight.detach().numpy().T) + model.head.bias.detach().numpy()
    np.testing.assert_allclose(model.features(data).detach().numpy(), h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(data).detach().numpy(), logits, rtol=1e-5, atol=1e-5)
    model.reset_classifier(5)
    assert model(data).shape == (4, 5)


def test_builders_and_example_inputs_run_forward():
    node = gcn_node()
    assert node(node.example_input()).shape == (5, 4)
    for config in ("gcn", "gcn-jk"):
        graph = gcn_graph(config=config).eval()
        batch = graph.example_input()
        assert graph(batch).shape == (2, 2)
        assert graph.features(batch).shape == (2, graph.embedding_dim)
    with_fp = gcn_graph(graph_feature_dim=16, num_outputs=1).eval()
    assert with_fp(with_fp.example_input()).shape == (2, 1)


def test_graph_model_pools_each_graph_separately():
    """A batch of two graphs gives the same outputs as each graph alone (pooling respects `batch`)."""
    torch.manual_seed(3)
    model = GCNGraphModel(2, 2, hidden=[8, 8], pooling="mean+max", jumping_knowledge=True).eval()
    a = four_node_graph()
    b = Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    together = model(Batch.from_data_list([a, b]))
    torch.testing.assert_close(together[0], model(Batch.from_data_list([a]))[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(together[1], model(Batch.from_data_list([b]))[0], rtol=1e-5, atol=1e-6)


def test_unknown_config_lists_the_known_ones():
    from shinsou.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown graph GCN config 'big' \(known: gcn, gcn-jk\)"):
        gcn_graph(config="big")


def molecule_batch(feature_rows: list[list[float]]) -> Batch:
    graphs = []
    for i, row in enumerate(feature_rows):
        g = Data(x=torch.rand(3 + i, 5, generator=torch.Generator().manual_seed(i)),
                 edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
        g.graph_features = torch.tensor([row])  # (1, D)
        graphs.append(g)
    return Batch.from_data_list(graphs)


def test_ensemble_averages_member_probabilities_and_values():
    """Classification: softmax of the ensemble's output is the mean of the members' softmax; regression: mean value."""
    torch.manual_seed(0)
    batch = molecule_batch([[0.0], [1.0], [2.0]])
    ensemble = gcn_graph(5, 3, graph_feature_dim=1, ensemble=3).eval()
    members = [torch.softmax(m(batch), 1) for m in ensemble.members]
    expected = (members[0] + members[1] + members[2]) / 3
    assert torch.allclose(torch.softmax(ensemble(batch), 1), expected, atol=1e-6)
    assert not torch.allclose(members[0], members[1])  # the members differ, so the mean is not trivially one of them
    regression = gcn_graph(5, 1, graph_feature_dim=1, ensemble=2).eval()
    values = [m(batch) for m in regression.members]
    assert regression(batch).shape == (3, 1)
    assert torch.allclose(regression(batch), (values[0] + values[1]) / 2, atol=1e-6)


def test_graph_features_are_clipped_to_the_stored_bounds_before_standardising():
    torch.manual_seed(0)
    model = gcn_graph(5, 2, graph_feature_dim=2, graph_feature_clip=True).eval()
    model.set_graph_feature_stats(mean=torch.tensor([1.0, 0.0]), std=torch.tensor([2.0, 1.0]),
                                  low=torch.tensor([-1.0, -3.0]), high=torch.tensor([4.0, 3.0]))
    far = model(molecule_batch([[100.0, -50.0]]))
    at_bounds = model(molecule_batch([[4.0, -3.0]]))
    inside = model(molecule_batch([[3.0, -2.0]]))
    assert torch.equal(far, at_bounds) and not torch.allclose(inside, at_bounds)
    features = model.features(molecule_batch([[100.0, -50.0]]))
    assert torch.allclose(features[0, -2:], torch.tensor([(4.0 - 1.0) / 2.0, -3.0]))


def test_graph_feature_stats_clip_descriptors_and_keep_fingerprint_bits():
    from shinsou.molecules.data import CLIP_PERCENTILES, graph_feature_stats
    from shinsou.molecules.featurize import FINGERPRINT_BITS

    rng = np.random.default_rng(0)
    bits = (rng.random((1000, FINGERPRINT_BITS)) < 0.01).astype(np.float32)
    descriptor = rng.normal(size=(1000, 1)).astype(np.float32)
    descriptor[0] = 1e6  # one wild value
    stats = graph_feature_stats(np.concatenate([bits, descriptor], 1), fingerprint=True)
    low, high = np.percentile(descriptor[:, 0], CLIP_PERCENTILES)
    assert stats["low"][-1].item() == pytest.approx(low, rel=1e-5) and stats["high"][-1].item() == pytest.approx(high, rel=1e-5)
    clipped = np.clip(descriptor[:, 0], low, high)
    assert stats["mean"][-1].item() == pytest.approx(clipped.mean(), abs=1e-5)
    assert stats["std"][-1].item() == pytest.approx(clipped.std(), rel=1e-4)  # near 1, not the 3e4 the 1e6 would give
    assert torch.equal(stats["mean"][:FINGERPRINT_BITS], torch.zeros(FINGERPRINT_BITS))
    assert torch.equal(stats["std"][:FINGERPRINT_BITS], torch.ones(FINGERPRINT_BITS))
    assert torch.equal(stats["high"][:FINGERPRINT_BITS], torch.ones(FINGERPRINT_BITS))
