"""SegNet and SegNet-Basic: max-unpooling puts each maximum back where it came from, odd sizes come back to the
input size, the parameter count matches the paper's, and VGG16-BN weights load into the encoder exactly."""

from __future__ import annotations

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn

from shinsou.errors import ConfigError, DataError
from shinsou.models import build_model
from shinsou.segnet.pretrained import load_vgg16_bn_encoder
from shinsou.segnet.segnet import SEGNET, SEGNET_BASIC, parameter_count


def test_max_unpooling_puts_values_back_at_the_pooled_positions():
    model = build_model("segnet-basic", num_classes=3, input_size=(32, 32))
    pool, unpool = model.encoder[0][-1], model.unpool
    x = torch.tensor([[1., 2., 0., 0.],
                      [3., 4., 0., 5.],
                      [0., 0., 7., 0.],
                      [6., 0., 0., 8.]]).view(1, 1, 4, 4)
    pooled, where = pool(x)
    assert pooled.view(2, 2).tolist() == [[4., 5.], [6., 8.]]
    restored = unpool(pooled, where, output_size=x.shape[-2:])
    expected = torch.tensor([[0., 0., 0., 0.],
                             [0., 4., 0., 5.],
                             [0., 0., 0., 0.],
                             [6., 0., 0., 8.]]).view(1, 1, 4, 4)
    assert torch.equal(restored, expected)


def test_odd_rows_and_columns_unpool_to_the_pre_pool_size():
    model = build_model("segnet-basic", num_classes=3, input_size=(32, 32))
    x = torch.arange(5 * 7, dtype=torch.float32).view(1, 1, 5, 7)  # the last row and column are dropped by pooling
    pooled, where = model.encoder[0][-1](x)
    assert pooled.shape[-2:] == (2, 3)
    restored = model.unpool(pooled, where, output_size=x.shape[-2:])
    assert restored.shape[-2:] == (5, 7)
    assert torch.equal(restored[restored != 0], pooled.flatten())  # every maximum, at its place, nothing else


@pytest.mark.parametrize("name,stages", [("segnet-basic", 4), ("segnet", 5)])
def test_encoder_and_decoder_shapes_for_90x120(name, stages):
    model = build_model(name, num_classes=11, input_size=(90, 120)).eval()
    x = torch.randn(2, 3, 90, 120)
    with torch.no_grad():
        deepest, indices, sizes = model.encode(x)
        expected_sizes = [(90, 120), (45, 60), (22, 30), (11, 15), (5, 7)][:stages]
        assert [tuple(s) for s in sizes] == expected_sizes
        h, w = expected_sizes[-1]
        assert deepest.shape[-2:] == (h // 2, w // 2)
        assert [tuple(i.shape[-2:]) for i in indices] == [(a // 2, b // 2) for a, b in expected_sizes]
        assert model.features(x).shape == (2, 64, 90, 120)
        assert model(x).shape == (2, 11, 90, 120)
    assert model.input_size == (3, 90, 120)


def test_upsampling_is_unpooling_only():
    for name in ("segnet", "segnet-basic"):
        model = build_model(name)
        kinds = {type(m) for m in model.modules()}
        assert nn.MaxUnpool2d in kinds
        assert not kinds & {nn.ConvTranspose2d, nn.Upsample, nn.UpsamplingBilinear2d, nn.UpsamplingNearest2d}
        assert all(m.return_indices for m in model.modules() if isinstance(m, nn.MaxPool2d))


def expected_parameters(arch: dict, num_classes: int, in_channels: int = 3) -> int:
    """Convs without bias (BN follows) k*k*cin*cout, BN 2*cout, head k*k*cin*K + K."""
    k, total, c = arch["kernel_size"], 0, in_channels
    for stage in arch["encoder"] + arch["decoder"]:
        for out in stage:
            total += k * k * c * out + 2 * out
            c = out
    h = arch["head_kernel"]
    return total + h * h * c * num_classes + num_classes


def test_parameter_counts_match_the_architecture_and_the_paper():
    segnet = build_model("segnet", num_classes=11)
    assert parameter_count(segnet) == expected_parameters(SEGNET, 11)
    assert 29.4e6 < parameter_count(segnet) < 29.5e6  # the paper: 29.5M
    basic = build_model("segnet-basic", num_classes=11)
    assert parameter_count(basic) == expected_parameters(SEGNET_BASIC, 11)
    assert segnet.input_size == (3, 360, 480) and basic.input_size == (3, 360, 480)


def test_reset_classifier_changes_only_the_head():
    model = build_model("segnet-basic", num_classes=11, input_size=(32, 32))
    model.reset_classifier(4)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 4, 32, 32)


@pytest.fixture(scope="module")
def vgg() -> nn.Module:
    """torchvision's vgg16_bn without downloads, with non-trivial BN statistics and conv biases."""
    torch.manual_seed(0)
    vgg = torchvision.models.vgg16_bn(weights=None)
    for m in vgg.features:
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_()
            m.bias.data.normal_()
        if isinstance(m, nn.Conv2d):
            m.bias.data.normal_()
    return vgg.eval()


def small_state(vgg: nn.Module) -> dict[str, torch.Tensor]:
    """Its state_dict without the 120M-parameter classifier matrices (one classifier key is kept: it must be ignored)."""
    return {k: v.contiguous() for k, v in vgg.state_dict().items() if k.startswith("features.") or k == "classifier.6.bias"}


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_vgg16_bn_state_dict_initialises_the_encoder_exactly(tmp_path, vgg, suffix):
    path = tmp_path / f"vgg16_bn{suffix}"
    if suffix == ".pth":
        torch.save(small_state(vgg), path)
    else:
        save_file(small_state(vgg), str(path))
    model = build_model("segnet", num_classes=11, input_size=(64, 64))
    assert load_vgg16_bn_encoder(model, str(path)) == str(path)
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours, _, _ = model.encode(x)
        theirs = vgg.features(x)  # (1, 512, 2, 2) after the 5 pools
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_imagenet_weights_offline_fail_with_one_line(monkeypatch):
    from urllib.error import URLError

    from torchvision.models import VGG16_BN_Weights

    def offline(self, *args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(VGG16_BN_Weights, "get_state_dict", offline)
    with pytest.raises(DataError) as e:
        load_vgg16_bn_encoder(build_model("segnet", input_size=(32, 32)), "imagenet")
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith("cannot download torchvision's VGG16-BN ImageNet weights (URLError")
    assert message.endswith("offline, pass --weights FILE with a vgg16_bn state_dict")


def test_weights_files_that_do_not_fit(tmp_path):
    model = build_model("segnet", input_size=(32, 32))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match=r"junk.pth: not a readable state_dict \("):
        load_vgg16_bn_encoder(model, str(junk))
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(DataError, match=r"other.pth: no VGG16-BN `features.\*` \(or SegNet `encoder.\*`\) keys, found e.g. 'fc.weight'"):
        load_vgg16_bn_encoder(model, str(other))
    vgg11 = tmp_path / "vgg11.pth"
    torch.save({f"features.{k}": v for k, v in torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["A"], batch_norm=True).state_dict().items()}, vgg11)
    with pytest.raises(DataError, match="weights do not fit the model"):
        load_vgg16_bn_encoder(model, str(vgg11))
    with pytest.raises(ConfigError, match="segnet model with 3 input channels"):
        load_vgg16_bn_encoder(build_model("segnet", in_channels=1, input_size=(32, 32)), str(vgg11))


def test_flip_tta_averages_the_mirror_images_probabilities():
    """class_log_probs(flip=True) = log of the mean of p(x) and mirror(p(mirror(x))), checked on a model that is
    not mirror-symmetric (a 1x3 convolution with unequal taps)."""
    from shinsou.segnet.predictor import class_log_probs

    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 4, (1, 3), padding=(0, 1)).eval()
    x = torch.randn(2, 3, 5, 7)
    with torch.no_grad():
        p = model(x).softmax(1)
        mirrored = model(x.flip(-1)).softmax(1).flip(-1)
        assert not torch.allclose(p, mirrored, atol=1e-3)
        expected = ((p + mirrored) / 2).log()
        assert torch.allclose(class_log_probs(model, x, flip=True), expected, atol=1e-6)
        assert torch.allclose(class_log_probs(model, x), p.log(), atol=1e-6)
