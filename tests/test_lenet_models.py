"""Both LeNets of the lecture: the shapes after every layer and the output size."""

import torch

from shinsou.models import build_model


def trace_shapes(model, x):
    shapes = []
    for layer in model.conv:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    return shapes


def test_lenet_caffe_shapes_are_the_lectures():
    model = build_model("lenet-caffe")
    assert trace_shapes(model, torch.zeros(2, 1, 28, 28)) == [(20, 24, 24), (20, 12, 12), (50, 8, 8), (50, 4, 4)]
    assert model.hidden[0].in_features == 800 and model.hidden[0].out_features == 500
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert model.features(torch.zeros(2, 1, 28, 28)).shape == (2, 500)


def test_lenet5_shapes_are_the_lectures():
    model = build_model("lenet5")
    # conv -> tanh -> subsample, twice: 32 -> 28 -> 14 -> 10 -> 5
    assert trace_shapes(model, torch.zeros(1, 1, 32, 32)) == [
        (6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5)]
    assert model.hidden[0].in_features == 16 * 5 * 5
    assert model(torch.zeros(3, 1, 32, 32)).shape == (3, 10)


def test_reset_classifier_changes_the_number_of_classes():
    model = build_model("lenet-caffe", num_classes=10)
    model.reset_classifier(4)
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 4)


def test_lenet_bn_keeps_the_caffe_shapes():
    model = build_model("lenet-bn").eval()
    pools = [tuple(x.shape[1:]) for x in _pool_outputs(model, torch.zeros(2, 1, 28, 28))]
    assert pools == [(20, 12, 12), (50, 4, 4)]
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def _pool_outputs(model, x):
    outputs = []
    for layer in model.conv:
        x = layer(x)
        if isinstance(layer, torch.nn.MaxPool2d):
            outputs.append(x)
    return outputs
