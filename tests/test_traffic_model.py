"""T-GCN: its graph convolution on a hand-built 4-node road graph equals D^-1/2 (A+I) D^-1/2 X W + b (+ X W_root)
computed densely, one GRU step equals the cell's equations, batches do not mix, and a checkpoint carries the network."""

from __future__ import annotations

import pytest
import torch

from shinsou.engine.checkpoint import load_weights, save_weights
from shinsou.traffic.model import tgcn
from shinsou.models import build_model

@pytest.fixture(autouse=True)
def one_thread():
    """Small ops: on a busy 2-core machine a second intra-op thread made them many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# a road A-B-C-D with a shortcut A-C; weights from road length, both directions
EDGES = torch.tensor([[0, 1, 1, 2, 2, 3, 0, 2], [1, 0, 2, 1, 3, 2, 2, 0]])
WEIGHTS = torch.tensor([1.0, 1.0, 0.5, 0.5, 0.8, 0.8, 0.2, 0.2])


def dense_a_hat() -> torch.Tensor:
    a = torch.zeros(4, 4)
    a[EDGES[1], EDGES[0]] = WEIGHTS  # row = receiving node
    a = a + torch.eye(4)
    d = a.sum(1).pow(-0.5)
    return d[:, None] * a * d[None, :]


def small_model(hidden: int = 3, root_weight: bool = True) -> torch.nn.Module:
    torch.manual_seed(0)
    model = tgcn(num_nodes=4, num_edges=EDGES.shape[1], in_features=2, hidden=hidden, window=3, horizon=2,
                 root_weight=root_weight)
    model.set_graph(EDGES, WEIGHTS)
    return model.eval()


def test_plain_graph_convolution_equals_the_dense_formula():
    model = small_model(root_weight=False)  # the paper's gates: GCN only
    x = torch.randn(4, 2 + 3)  # node features [x_t, h] for one sample
    layer = model.cell.gates
    got = layer(x, *model.batch_graph(1))
    expected = dense_a_hat() @ x @ layer.gcn.lin.weight.T + layer.gcn.bias
    assert layer.root is None and torch.allclose(got, expected, atol=1e-6)


def test_root_weight_adds_the_node_itself():
    model = small_model()
    x = torch.randn(4, 5)
    layer = model.cell.gates
    expected = dense_a_hat() @ x @ layer.gcn.lin.weight.T + layer.gcn.bias + x @ layer.root.weight.T
    assert torch.allclose(layer(x, *model.batch_graph(1)), expected, atol=1e-6)


def test_one_step_follows_the_gru_equations():
    model = small_model()
    x, h = torch.randn(4, 2), torch.randn(4, 3)
    a_hat = dense_a_hat()

    def gc(layer, z):
        return a_hat @ z @ layer.gcn.lin.weight.T + layer.gcn.bias + z @ layer.root.weight.T

    r, u = torch.sigmoid(gc(model.cell.gates, torch.cat([x, h], 1))).chunk(2, 1)
    candidate = torch.tanh(gc(model.cell.candidate, torch.cat([x, r * h], 1)))
    expected = u * h + (1 - u) * candidate
    assert torch.allclose(model.cell(x, h, *model.batch_graph(1)), expected, atol=1e-6)


def test_shapes_and_batches_do_not_mix():
    model = small_model()
    x = torch.randn(5, 3, 4, 2)  # (B, window, N, F)
    out = model(x)
    assert out.shape == (5, 2, 4) and model.features(x).shape == (5, 4, 3)
    assert torch.allclose(out[3], model(x[3:4])[0], atol=1e-6)
    # the head forecasts the change from the last standardised speed
    assert torch.allclose(out, x[:, -1, :, 0][:, None, :] + model.head(model.features(x)).transpose(1, 2), atol=1e-6)


def test_checkpoint_carries_the_road_network(tmp_path):
    model = small_model()
    save_weights(model, tmp_path / "w.safetensors")
    rebuilt = tgcn(num_nodes=4, num_edges=EDGES.shape[1], in_features=2, hidden=3, window=3, horizon=2)
    load_weights(rebuilt, tmp_path / "w.safetensors")
    assert torch.equal(rebuilt.edge_index, EDGES) and torch.equal(rebuilt.edge_weight, WEIGHTS)
    x = torch.randn(2, 3, 4, 2)
    assert torch.allclose(rebuilt.eval()(x), model(x))


def test_registered_builder_runs_its_example_input():
    model = build_model("tgcn")
    out = model(model.example_input())
    assert out.shape == (2, model.horizon, model.num_nodes) and torch.isfinite(out).all()
    model.reset_classifier(3)
    assert model(model.example_input()).shape == (2, 3, model.num_nodes)
