"""Every model shinsou can build, by name: a plain dict of builders that `--model`, `explain model`
and run directories use. Builders are imported on first use so that the CLI starts fast."""

from __future__ import annotations

import importlib

from torch import nn

from shinsou.errors import unknown_name

# name -> (module, builder function); each builder takes keyword options such as num_classes
MODELS: dict[str, tuple[str, str]] = {
    "lenet5": ("shinsou.mnist.lenet", "lenet5"),
    "lenet-caffe": ("shinsou.mnist.lenet", "lenet_caffe"),
    "lenet-bn": ("shinsou.mnist.lenet", "lenet_bn"),
    "vgg16": ("shinsou.transfer.backbones", "vgg16"),
    "vgg16_bn": ("shinsou.transfer.backbones", "vgg16_bn"),
    "resnet18": ("shinsou.transfer.backbones", "resnet18"),
    "resnet50": ("shinsou.transfer.backbones", "resnet50"),
    "efficientnet_b0": ("shinsou.transfer.backbones", "efficientnet_b0"),
    "mobilenet_v3_small": ("shinsou.transfer.backbones", "mobilenet_v3_small"),
    "efficientnet_lite0": ("shinsou.transfer.backbones", "efficientnet_lite0"),
    "gcn-node": ("shinsou.graphs.gcn", "gcn_node"),
    "gcn-graph": ("shinsou.graphs.gcn", "gcn_graph"),
    "segnet": ("shinsou.segnet.segnet", "segnet"),
    "segnet-basic": ("shinsou.segnet.segnet", "segnet_basic"),
    "tgcn": ("shinsou.traffic.model", "tgcn"),
}


def build_model(name: str, **options) -> nn.Module:
    """Build model `name` with its options (num_classes, in_channels, ...); unknown names list the known ones."""
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    module, function = MODELS[name]
    return getattr(importlib.import_module(module), function)(**options)
