"""Backbones and their weights: EfficientNet-Lite0's ported ImageNet weights classify a real photo, a VGG16
state_dict file loads with --weights FILE, files that do not fit name their keys, offline ImageNet says what to do."""

from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from torch import nn

from shinsou.errors import ConfigError, DataError
from shinsou.transfer.backbones import build_backbone, make_net, preprocess_for, read_state_file, resolve_weights
from shinsou.transfer.data import fit_square
from shinsou.transfer.efficientnet_lite0 import same_padding
from shinsou.transfer.transforms import eval_transform

ESPRESSO, CUP = 967, 968


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on a shared 2-core machine two threads spin against each other (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_tf_same_padding_by_hand():
    assert same_padding(224, 3, 2) == (0, 1)  # out 112: (111 * 2 + 3) - 224 = 1, the extra pixel after
    assert same_padding(112, 5, 2) == (1, 2)  # out 56: 55 * 2 + 5 - 112 = 3
    assert same_padding(225, 3, 2) == (1, 1)  # out 113: 112 * 2 + 3 - 225 = 2
    assert same_padding(14, 5, 1) == (2, 2)


def test_efficientnet_lite0_imagenet_weights_see_espresso_in_skimage_coffee():
    from PIL import Image
    from skimage import data

    model = build_backbone("efficientnet_lite0", 1000, "imagenet", freeze=None).eval()
    photo = np.array(fit_square(data.coffee(), 224, Image.BICUBIC))  # (400, 600, 3) -> (224, 224, 3), centre crop
    x = eval_transform(model.preprocess, 224)(torch.from_numpy(photo).permute(2, 0, 1)[None])  # (1, 3, 224, 224)
    with torch.no_grad():
        probs = model(x).softmax(1)[0]
    assert int(probs.argmax()) in (ESPRESSO, CUP)
    assert float(probs[ESPRESSO] + probs[CUP]) > 0.8


def test_pretrained_body_with_a_new_head():
    full = build_backbone("efficientnet_lite0", 1000, "imagenet", freeze=None)
    torch.manual_seed(0)
    ten = build_backbone("efficientnet_lite0", 10, "imagenet", freeze="lecture")
    assert torch.equal(full.net.blocks[3].depthwise.conv.weight, ten.net.blocks[3].depthwise.conv.weight)
    assert torch.equal(full.net.conv_head.bn.running_var, ten.net.conv_head.bn.running_var)
    assert ten.head.weight.shape == (10, 1280) and torch.isfinite(ten.head.weight).all()


def test_preprocessing_follows_the_weights():
    t = tvm.ResNet18_Weights.IMAGENET1K_V1.transforms()
    p = preprocess_for("resnet18")
    assert (p.mean, p.std, p.interpolation, p.size) == (tuple(t.mean), tuple(t.std), "bilinear", 224)
    assert preprocess_for("efficientnet_b0").interpolation == "bicubic"
    lite = preprocess_for("efficientnet_lite0")
    x = torch.tensor([[[[0, 127, 255]]]], dtype=torch.uint8).expand(1, 3, 1, 3)
    y = eval_transform(lite, 1)(x[..., :1])  # one pixel, 0 -> (0 - 127) / 128
    assert torch.allclose(y, torch.full((1, 3, 1, 1), -127 / 128))


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """A VGG16 state_dict in torchvision's naming and shapes, as `torch.save(vgg16().state_dict(), FILE)` writes it.
    Most tensors are one zero expanded to the shape (stride 0), so the file is small and quick to write."""
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in tvm.vgg16().state_dict().items()}
    state = {k: torch.zeros(1).expand(shape) for k, shape in shapes.items()}
    g = torch.Generator().manual_seed(1)
    for k in ("features.0.weight", "features.28.bias", "classifier.3.bias", "classifier.6.weight"):
        state[k] = torch.randn(shapes[k], generator=g)
    path = tmp_path_factory.mktemp("weights") / "vgg16-local.pth"
    torch.save(state, path)
    return path, state


def test_vgg16_state_dict_file_loads_with_weights_file(vgg16_file):
    path, state = vgg16_file
    model = build_backbone("vgg16", 1000, str(path))
    assert torch.equal(model.net.features[0].weight, state["features.0.weight"])
    assert torch.equal(model.net.features[28].bias, state["features.28.bias"])
    assert torch.equal(model.net.classifier[3].bias, state["classifier.3.bias"])
    assert torch.equal(model.head.weight, state["classifier.6.weight"])  # 1000 classes: the ImageNet head too
    # conv5_2 and conv5_3 and the FC layers train under the default (lecture) recipe
    assert not model.net.features[24].weight.requires_grad and model.net.features[26].weight.requires_grad


def test_vgg16_file_with_a_new_number_of_classes_keeps_the_body(vgg16_file):
    path, state = vgg16_file
    model = build_backbone("vgg16", 5, str(path))
    assert torch.equal(model.net.features[0].weight, state["features.0.weight"])
    assert model.head.weight.shape == (5, 4096) and model.head.weight.abs().sum() > 0  # fresh, not zeros


def test_weights_file_with_wrong_keys_names_the_first_missing_and_unexpected(tmp_path):
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in tvm.resnet18().state_dict().items()}
    state = {("stem.weight" if k == "conv1.weight" else k): torch.zeros(s) for k, s in shapes.items()}
    state["extra.bias"] = torch.zeros(3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(DataError) as e:
        build_backbone("resnet18", 10, str(path))
    assert str(e.value) == f"{path}: weights do not fit resnet18: missing 'conv1.weight'; unexpected 'stem.weight' and 1 more"

    state = {k: torch.zeros(s) for k, s in shapes.items()}
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    torch.save(state, path)
    with pytest.raises(DataError) as e:
        build_backbone("resnet18", 10, str(path))
    assert str(e.value) == (f"{path}: weights do not fit resnet18: 'layer1.0.conv1.weight' has shape (64, 64, 1, 1), "
                            "resnet18 expects (64, 64, 3, 3)")


def test_weights_file_that_is_a_pickled_module_is_refused(tmp_path):
    path = tmp_path / "module.pth"
    torch.save(nn.Linear(2, 2), path)  # a pickled object, not a state_dict
    with pytest.raises(DataError) as e:
        read_state_file(path)
    assert str(e.value).startswith(f"{path}: not a plain state_dict of tensors (torch.load(weights_only=True) refused it: ")
    assert "\n" not in str(e.value)
    with pytest.raises(DataError) as e:
        read_state_file(tmp_path / "absent.pth")
    assert str(e.value) == f"{tmp_path / 'absent.pth'}: no such weights file (--weights takes imagenet, none or a state_dict file)"


def test_imagenet_offline_says_to_pass_a_local_file(monkeypatch):
    def offline(self, *args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvm.WeightsEnum, "get_state_dict", offline)
    with pytest.raises(ConfigError) as e:
        resolve_weights("resnet18", "imagenet")
    message = str(e.value)
    assert message.startswith("--weights imagenet: cannot download https://download.pytorch.org/models/resnet18-f37072fd.pth "
                              "([Errno -3] Temporary failure in name resolution); fetch that file on a machine with "
                              "internet and pass it with --weights FILE (or put it at ")
    assert message.endswith("checkpoints/resnet18-f37072fd.pth)") and "\n" not in message


def test_safetensors_and_wrapped_checkpoints_load(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    source = make_net("mobilenet_v3_small", 1000, 32)
    tv_state = {k.removeprefix("net."): v for k, v in source.state_dict().items() if k.startswith("net.")}
    tv_state.update({f"classifier.3.{k}": v for k, v in source.head.state_dict().items()})
    save_file({k: v.contiguous() for k, v in tv_state.items()}, str(tmp_path / "m.safetensors"))
    torch.save({"epoch": 3, "state_dict": tv_state}, tmp_path / "wrapped.pt")
    for name in ("m.safetensors", "wrapped.pt"):
        model = build_backbone("mobilenet_v3_small", 1000, str(tmp_path / name), image_size=32).eval()
        x = torch.randn(1, 3, 32, 32)
        assert torch.equal(model(x), source.eval()(x))
