"""Freezing: which parameters train under each option (VGG16's 13 conv + 3 FC by name), frozen weights and
BatchNorm statistics bit-identical after real training steps, frozen BatchNorm kept in eval mode."""

import numpy as np
import pytest
import torch

from shinsou.errors import ConfigError
from shinsou.transfer.backbones import BACKBONES, build_backbone, make_net
from shinsou.transfer.data import ImageSet, TransferData
from shinsou.transfer.freeze import apply_freeze, describe_freeze, freeze_cut, freeze_summary
from shinsou.transfer.config import Config
from shinsou.transfer.train import fit_stage

# VGG16's conv layers sit at these indices of torchvision's `features` (pools at 4, 9, 16, 23, 30)
VGG_CONV = {"conv1_1": 0, "conv1_2": 2, "conv2_1": 5, "conv2_2": 7, "conv3_1": 10, "conv3_2": 12, "conv3_3": 14,
            "conv4_1": 17, "conv4_2": 19, "conv4_3": 21, "conv5_1": 24, "conv5_2": 26, "conv5_3": 28}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a shared 2-core machine two threads spin against each other (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def meta_net(backbone: str, num_classes: int = 10):
    """The real architecture without memory or initialisation: enough for names and requires_grad."""
    with torch.device("meta"):
        return make_net(backbone, num_classes, 224)


def trainable(model) -> set[str]:
    return {n for n, p in model.named_parameters() if p.requires_grad}


def vgg_params(*layers: str) -> set[str]:
    names = set()
    for layer in layers:
        if layer in VGG_CONV:
            names |= {f"net.features.{VGG_CONV[layer]}.weight", f"net.features.{VGG_CONV[layer]}.bias"}
        else:
            path = {"fc6": "net.classifier.0", "fc7": "net.classifier.3", "fc8": "head"}[layer]
            names |= {f"{path}.weight", f"{path}.bias"}
    return names


def test_vgg16_has_13_conv_and_3_fc_layers_in_order():
    model = meta_net("vgg16")
    assert model.unit_names() == list(VGG_CONV) + ["fc6", "fc7", "fc8"]
    assert [u.kind for u in model.units] == ["conv"] * 13 + ["fc"] * 3


def test_lecture_recipe_trains_the_last_two_convs_and_the_fc_layers():
    model = meta_net("vgg16")
    apply_freeze(model, freeze_cut(model, "lecture"))
    assert trainable(model) == vgg_params("conv5_2", "conv5_3", "fc6", "fc7", "fc8")
    summary = freeze_summary(model)
    # conv5_2 and conv5_3: 2 x (512*512*9 + 512); fc6 25088*4096 + 4096; fc7 4096*4096 + 4096; fc8 4096*10 + 10
    assert summary["trainable_params"] == 2 * (512 * 512 * 9 + 512) + 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 10 + 10
    assert summary["trainable_params"] + summary["frozen_params"] == sum(p.numel() for p in model.parameters())
    assert describe_freeze(model)[:2] == ["vgg16: frozen conv1_1 .. conv5_1 (11 layers)",
                                          "vgg16: training conv5_2, conv5_3, fc6, fc7, fc8"]


@pytest.mark.parametrize("freeze, expected", [
    ("none", list(VGG_CONV) + ["fc6", "fc7", "fc8"]),
    (None, list(VGG_CONV) + ["fc6", "fc7", "fc8"]),
    ("all-but-head", ["fc8"]),
    ("conv4_1", ["conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3", "fc6", "fc7", "fc8"]),
    ("7", ["conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3", "fc6", "fc7", "fc8"]),
    (15, ["fc8"]),
    ("head", ["fc8"]),
])
def test_every_freeze_option_sets_requires_grad(freeze, expected):
    model = meta_net("vgg16")
    apply_freeze(model, freeze_cut(model, "lecture"))  # then re-cut: requires_grad must follow the new cut
    apply_freeze(model, freeze_cut(model, freeze))
    assert trainable(model) == vgg_params(*expected)


@pytest.mark.parametrize("backbone, expected", [
    ("efficientnet_lite0", ["blocks.15", "conv_head", "head"]),
    ("resnet18", ["layer4.0", "layer4.1", "head"]),
    ("resnet50", ["layer4.1", "layer4.2", "head"]),
    ("efficientnet_b0", ["features.7.0", "features.8", "head"]),
    ("mobilenet_v3_small", ["features.11", "features.12", "classifier.0", "head"]),
    ("vgg16_bn", ["conv5_2", "conv5_3", "fc6", "fc7", "fc8"]),
])
def test_lecture_recipe_on_every_backbone(backbone, expected):
    model = meta_net(backbone)
    apply_freeze(model, freeze_cut(model, "lecture"))
    assert freeze_summary(model)["trainable_layers"] == expected
    prefixes = tuple(p + "." for u in model.units if u.name in expected for p in u.paths)
    assert trainable(model) == {n for n, _ in model.named_parameters() if n.startswith(prefixes)}


def test_the_config_offers_every_backbone_and_freezing_recipe():
    from shinsou.transfer.config import BACKBONE_NAMES, FREEZE_RECIPES

    assert BACKBONE_NAMES == tuple(sorted(BACKBONES))
    model = meta_net("vgg16")
    assert [freeze_cut(model, recipe) for recipe in FREEZE_RECIPES] == [11, 0, 15]  # conv5_2, conv1_1, fc8


def test_every_parameter_belongs_to_one_layer_of_every_backbone():
    for backbone in BACKBONES:
        model = meta_net(backbone)
        owned = [n for u in model.units for path in u.paths
                 for n in (f"{path}.{k}" for k, _ in model.get_submodule(path).named_parameters())]
        assert sorted(owned) == sorted(n for n, _ in model.named_parameters()), backbone


def test_freeze_until_naming_no_layer_lists_the_names():
    model = meta_net("resnet18")
    with pytest.raises(ConfigError) as e:
        freeze_cut(model, "layer9")
    assert str(e.value) == ("--freeze-until 'layer9' names no layer of resnet18 (layers: conv1, layer1.0, layer1.1, "
                            "layer2.0, layer2.1, layer3.0, layer3.1, layer4.0, layer4.1, head)")
    with pytest.raises(ConfigError) as e:
        freeze_cut(model, 10)
    assert str(e.value) == "--freeze-until 10: resnet18 has layers 0..9 (conv1 .. head)"


def engine_run(run_dir, cfg: Config):
    """The Run the engine hands to train(cfg, run), on one CPU process."""
    from shinsou.engine.lifecycle import Run
    from shinsou.engine.trainer import make_fabric

    return Run(run_dir, cfg, make_fabric(1, precision=cfg.precision), "transfer", False, log=lambda line: None)


def tiny_data(n_per_class: int = 4, size: int = 32) -> TransferData:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2 * n_per_class, 3, size, size), generator=g, dtype=torch.uint8)
    labels = np.repeat([0, 1], n_per_class)
    images[labels == 1, 0] //= 4  # class 1 has little red
    part = ImageSet(images, labels, "tiny")
    return TransferData({"train": part, "val": part, "test": part}, ["a", "b"], "folder")


def test_frozen_weights_and_batchnorm_statistics_survive_real_training_steps(tmp_path):
    """run.fit() through Lightning Fabric, AdamW with weight decay: frozen tensors stay bit-identical."""
    torch.manual_seed(0)
    model = build_backbone("resnet18", 2, "none", 32, freeze="lecture")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = Config(epochs=2, batch_size=4, lr=1e-2, weight_decay=0.1, select="last")
    fit_stage(engine_run(tmp_path, cfg), model, tiny_data(), cfg, cfg.lr, cfg.epochs)
    assert (tmp_path / "best.safetensors").read_bytes() == (tmp_path / "last.safetensors").read_bytes()  # --select last
    after = model.state_dict()
    frozen = [k for k in before if not k.startswith(("net.layer4.", "head."))]
    assert any("running_mean" in k for k in frozen) and any("num_batches_tracked" in k for k in frozen)
    for k in frozen:  # weights, biases and BatchNorm running_mean / running_var / num_batches_tracked
        assert torch.equal(before[k], after[k]), k
    assert not torch.equal(before["net.layer4.0.conv1.weight"], after["net.layer4.0.conv1.weight"])
    assert not torch.equal(before["net.layer4.0.bn1.running_mean"], after["net.layer4.0.bn1.running_mean"])
    assert not torch.equal(before["head.weight"], after["head.weight"])


def test_second_stage_keeps_every_batchnorm_statistic_but_trains_scale_and_shift(tmp_path):
    """Stage 2 (--stage2-freeze-bn, the default): everything unfrozen, yet no BatchNorm re-estimates its running
    statistics (Keras's fine-tuning advice); its weight and bias, and the convolutions, still learn."""
    torch.manual_seed(0)
    model = build_backbone("resnet18", 2, "none", 32, freeze="none")
    model.batchnorm_stats_frozen = True
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = Config(epochs=1, batch_size=4, lr=1e-2)
    fit_stage(engine_run(tmp_path, cfg), model, tiny_data(), cfg, cfg.lr, cfg.epochs)
    after = model.state_dict()
    stats = [k for k in before if k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(stats) == 3 * 20  # resnet18 has 20 BatchNorm layers
    for k in stats:
        assert torch.equal(before[k], after[k]), k
    for k in ("net.conv1.weight", "net.bn1.weight", "net.layer1.0.bn2.bias", "head.weight"):
        assert not torch.equal(before[k], after[k]), k
    model.batchnorm_stats_frozen = False
    model.train()
    assert model.net.bn1.training


def test_frozen_batchnorm_stays_in_eval_mode_under_train():
    model = build_backbone("mobilenet_v3_small", 3, "none", 32, freeze="lecture")
    model.train()
    frozen_bn = model.net.features[0][1]
    trained_bn = model.net.features[12][1]
    assert not frozen_bn.training and trained_bn.training and model.net.classifier[2].training
    apply_freeze(model, freeze_cut(model, "none"))
    assert frozen_bn.training  # unfrozen in a second stage: it trains again
    model.eval()
    assert not trained_bn.training


@pytest.mark.parametrize("backbone", ["resnet18", "mobilenet_v3_small", "efficientnet_lite0", "efficientnet_b0"])
def test_head_is_replaced_with_the_right_number_of_classes(backbone):
    torch.manual_seed(0)
    model = build_backbone(backbone, 7, "none", 32, freeze="lecture")
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    embedding = model.features(x)
    assert model.head.out_features == 7 and model(x).shape == (2, 7)
    assert torch.allclose(model(x), model.head(embedding))
    model.reset_classifier(4)
    assert model(x).shape == (2, 4) and model.head.in_features == embedding.shape[1]
