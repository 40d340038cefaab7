"""`shinsou explain model`: the layer table comes from a real forward pass (hooks) and reproduces the lecture's
LeNet shapes; multiply-adds equal the hand formula; any model (tuple outputs, graphs, frozen layers) works."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from shinsou.explain.shapes import load_target, model_input, multiply_adds, parse_input_size, trace_model
from shinsou.models import MODELS, build_model


def spatial(rows, type_prefix):
    return [r.output_shape[-1] for r in rows if r.type.startswith(type_prefix)]


def test_lenet_caffe_shapes_are_the_lectures():
    model, label = load_target("lenet-caffe")
    trace = trace_model(model, *model_input(model)[:1], label=label)
    assert trace.input == [1, 1, 28, 28]
    maps = [r.output_shape for r in trace.rows if r.type in ("Conv2d", "MaxPool2d")]
    assert maps == [[1, 20, 24, 24], [1, 20, 12, 12], [1, 50, 8, 8], [1, 50, 4, 4]]  # 28 -> 24 -> 12 -> 8 -> 4
    first_linear = next(r for r in trace.rows if r.type == "Linear")
    assert first_linear.input_shape == [1, 800] and first_linear.kernel == "800→500"  # 4x4x50 = 800
    assert trace.output == [1, 10]
    assert trace.total_params == sum(p.numel() for p in model.parameters())
    assert sum(r.params for r in trace.rows) == trace.total_params


def test_lenet5_shapes_are_the_lectures():
    model, label = load_target("lenet5")
    trace = trace_model(model, model_input(model)[0], label=label)
    maps = [r.output_shape for r in trace.rows if r.type in ("Conv2d", "AvgPool2d")]
    assert [m[-1] for m in maps] == [28, 14, 10, 5]  # 32 -> 28 -> 14 -> 10 -> 5
    assert maps[-1] == [1, 16, 5, 5]
    assert next(r for r in trace.rows if r.type == "Linear").input_shape == [1, 400]


@pytest.mark.parametrize("name", ["lenet-caffe", "lenet5"])
def test_table_equals_running_the_layers_one_by_one(name):
    """Oracle: push the input through model.conv's layers by hand and compare every shape."""
    model = build_model(name).eval()
    x = torch.zeros(1, *model.input_size)
    trace = trace_model(model, x)
    expected = []
    with torch.no_grad():
        for layer in model.conv:
            x = layer(x)
            expected.append(list(x.shape))
    conv_rows = [r for r in trace.rows if r.name.startswith("conv.")]
    assert [r.output_shape for r in conv_rows] == expected


def test_conv_multiply_adds_equal_the_hand_formula():
    model, _ = load_target("lenet-caffe")
    trace = trace_model(model, model_input(model)[0])
    conv2 = next(r for r in trace.rows if r.name == "conv.2")
    assert conv2.macs == 50 * 8 * 8 * 20 * 5 * 5  # Cout * Hout * Wout * Cin * kh * kw = 1,600,000
    conv0 = next(r for r in trace.rows if r.name == "conv.0")
    assert conv0.macs == 20 * 24 * 24 * 1 * 5 * 5
    assert next(r for r in trace.rows if r.name == "hidden.0").macs == 800 * 500
    assert trace.total_macs == 288_000 + 1_600_000 + 400_000 + 5_000
    grouped = nn.Conv2d(8, 12, 3, stride=2, padding=1, groups=4)
    out = grouped(torch.zeros(1, 8, 9, 9))  # (1, 12, 5, 5)
    assert multiply_adds(grouped, (torch.zeros(1, 8, 9, 9),), out) == 12 * 5 * 5 * (8 // 4) * 3 * 3


class SegLike(nn.Module):
    """Max pooling that returns indices and an unpooling that uses them, as SegNet does."""

    input_size = (3, 16, 16)

    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.dec = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        x = self.enc(x)  # (B, 4, 16, 16)
        x, indices = self.pool(x)  # (B, 4, 8, 8) each
        return self.dec(self.unpool(x, indices))  # (B, 2, 16, 16)


def test_tuple_outputs_and_stride_padding_columns():
    trace = trace_model(SegLike(), model_input(SegLike())[0])
    pool = next(r for r in trace.rows if r.name == "pool")
    assert pool.output_shape == [1, 4, 8, 8]
    assert pool.output_shapes == [[1, 4, 8, 8], [1, 4, 8, 8]]
    enc = next(r for r in trace.rows if r.name == "enc")
    assert (enc.kernel, enc.stride) == ("3x3 pad 1", "1")
    assert trace.output == [1, 2, 16, 16]


def test_frozen_layers_show_in_the_trainable_column(cli):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    model[0].weight.requires_grad_(False)
    trace = trace_model(model, torch.zeros(1, 1, 6, 6))
    assert [r.trainable for r in trace.rows] == ["part", "-", "yes"]
    model[0].bias.requires_grad_(False)
    trace = trace_model(model, torch.zeros(1, 1, 6, 6))
    assert trace.rows[0].trainable == "no"
    assert trace.trainable_params == 2 * 4 * 4 * 3 + 3


def test_graph_models_use_example_input():
    from torch_geometric.nn import GCNConv

    class TinyGCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = GCNConv(3, 5)
            self.head = nn.Linear(5, 2)

        def example_input(self):
            edges = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # a 4-node path graph
            return (torch.zeros(4, 3), edges)

        def forward(self, x, edge_index):
            return self.head(self.conv1(x, edge_index).relu())

    model = TinyGCN()
    example, source = model_input(model)
    trace = trace_model(model, example, input_source=source)
    assert source == "example_input()"
    assert [r.name for r in trace.rows] == ["conv1", "head"]  # the graph convolution is one row
    assert trace.rows[0].output_shape == [4, 5]
    assert trace.rows[0].params == 3 * 5 + 5
    assert trace.rows[0].macs == 4 * 5 * 3  # its linear transform, node by node
    assert trace.total_params == sum(p.numel() for p in model.parameters())


def test_input_size_parsing():
    assert parse_input_size("3x224x224") == (3, 224, 224)
    assert parse_input_size("28x28", build_model("lenet-caffe")) == (1, 28, 28)
    assert parse_input_size("32") == (1, 32, 32)


def test_cli_table_json_and_every_registered_model(cli):
    code, out, err = cli("explain", "model", "lenet-caffe")
    assert code == 0, err
    assert "1x20x24x24" in out and "1x50x4x4" in out and "800→500" in out and "431,080" in out
    code, out, _ = cli("explain", "model", "lenet5", "--json")
    data = json.loads(out)
    assert [layer["output_shape"][-1] for layer in data["layers"] if layer["type"] == "AvgPool2d"] == [14, 5]
    assert data["total_params"] == 61_706
    code, out, _ = cli("explain", "model", "lenet5", "--option", "num_classes=3", "--option", "in_channels=3",
                       "--json")
    data = json.loads(out)
    assert data["input"] == [1, 3, 32, 32] and data["output"] == [1, 3]


def test_every_registered_model_traces():
    """Models that other pipelines register must work too. The big ones (VGG16, ResNets, SegNet at 360x480) are
    skipped here to keep the suite fast; their size is read off a free build on the meta device first."""
    for name in MODELS:
        with torch.device("meta"):  # no memory, no initialisation: just the parameter count and input size
            sketch = build_model(name)
        size = getattr(sketch, "input_size", None)
        pixels = size[-1] * size[-2] if isinstance(size, (tuple, list)) and len(size) >= 2 else 0
        if sum(p.numel() for p in sketch.parameters()) > 5_000_000 or pixels > 100_000:
            continue
        model, label = load_target(name)
        example, source = model_input(model)
        trace = trace_model(model, example, label, source)
        assert trace.rows, name
        assert sum(r.params for r in trace.rows) == trace.total_params, name


def test_run_directory(tmp_path, cli):
    from shinsou.engine.checkpoint import save_weights
    from shinsou.engine.config import write_yaml_atomic

    save_weights(build_model("lenet5"), tmp_path / "best.safetensors")
    write_yaml_atomic(tmp_path / "config.yaml", {"pipeline": "mnist", "model": "lenet5",
                                                 "model_options": {"num_classes": 10, "in_channels": 1}})
    code, out, err = cli("explain", "model", tmp_path, "--json")
    assert code == 0, err
    assert json.loads(out)["input"] == [1, 1, 32, 32]


@pytest.mark.parametrize("args,message", [
    (["lenet"], "unknown model 'lenet' (known: {known})"),
    (["lenet-caffe", "--input-size", "1x32x32"],
     "lenet-caffe: the forward pass on input [1, 1, 32, 32] failed (RuntimeError: mat1 and mat2 shapes cannot be "
     "multiplied (1x1250 and 800x500)); give another --input-size"),
    (["lenet5", "--input-size", "three"], "--input-size 'three': expected CxHxW such as 3x224x224 (positive whole numbers)"),
    (["lenet5", "--option", "classes"], "--option 'classes': expected KEY=VALUE such as num_classes=2"),
    (["./no-such-run"], "no-such-run: no such run directory"),
])
def test_bad_model_inputs_exit_2(cli, args, message):
    code, out, err = cli("explain", "model", *args)
    assert code == 2
    assert err.strip() == "error: " + message.format(known=", ".join(sorted(MODELS)))


def test_bad_builder_option_exits_2(cli):
    code, _, err = cli("explain", "model", "lenet5", "--option", "colour=red")
    assert code == 2
    assert err.startswith("error: model 'lenet5': bad --option (") and "colour" in err
