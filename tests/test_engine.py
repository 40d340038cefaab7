"""The shared engine: checkpoints, layered config, metric accumulators and in-memory batches."""

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from shinsou.engine.batches import InMemoryBatches
from shinsou.engine.checkpoint import check_state_fits, load_weights, save_weights
from shinsou.engine.config import resolve_config
from shinsou.engine.metrics import ConfusionMatrix
from shinsou.mnist.config import Config as MnistConfig
from shinsou.errors import ConfigError, DataError
from shinsou.models import build_model


def test_checkpoint_round_trip_is_exact(tmp_path):
    torch.manual_seed(0)
    model = build_model("lenet-caffe")
    path = save_weights(model, tmp_path / "w.safetensors", metadata={"epoch": "3"})
    assert not (tmp_path / "w.safetensors.tmp").exists()
    other = build_model("lenet-caffe")
    load_weights(other, path)
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), name
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(model(x), other(x))


def test_checkpoint_of_another_model_names_the_keys(tmp_path):
    path = save_weights(build_model("lenet5"), tmp_path / "w.safetensors")
    with pytest.raises(DataError, match=r"weights do not fit the model: .*has shape|missing"):
        load_weights(build_model("lenet-caffe"), path)
    state = build_model("lenet-caffe").state_dict()
    state["extra.weight"] = state.pop("head.bias")
    with pytest.raises(DataError, match="missing 'head.bias'; unexpected 'extra.weight'"):
        check_state_fits(build_model("lenet-caffe"), state, "w")


def test_config_layers_defaults_yaml_flags(tmp_path):
    (tmp_path / "c.yaml").write_text("epochs: 3\nlr: 0.1\nmodel: lenet5\n")
    cfg = resolve_config(MnistConfig, tmp_path / "c.yaml", lr=0.2, epochs=None)
    assert (cfg.epochs, cfg.lr, cfg.model, cfg.batch_size) == (3, 0.2, "lenet5", 64)
    (tmp_path / "bad.yaml").write_text("epoch: 3\n")
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        resolve_config(MnistConfig, tmp_path / "bad.yaml")


def test_confusion_matrix_agrees_with_sklearn():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    cm = ConfusionMatrix(4)
    for start in range(0, 500, 64):  # accumulated over batches, not averaged per batch
        cm.update(torch.from_numpy(p[start:start + 64]), torch.from_numpy(y[start:start + 64]))
    result = cm.compute()
    np.testing.assert_array_equal(result["confusion_matrix"], confusion_matrix(y, p))
    precision, recall, f1, support = precision_recall_fscore_support(y, p)
    np.testing.assert_allclose(result["per_class"]["precision"], precision)
    np.testing.assert_allclose(result["per_class"]["f1"], f1)
    assert result["accuracy"] == pytest.approx((y == p).mean())


def test_confusion_matrix_segmentation_metrics_by_hand():
    # 2x3 label map with the ignored label 255 in one pixel
    target = torch.tensor([[0, 0, 1], [1, 2, 255]])
    pred = torch.tensor([[0, 1, 1], [1, 2, 0]])
    result = ConfusionMatrix(3, ignore_index=255)
    result.update(pred, target)
    out = result.compute()
    # class 0: tp 1, fn 1, fp 0 -> IoU 1/2; class 1: tp 2, fp 1 -> 2/3; class 2: 1/1
    assert out["per_class"]["iou"] == pytest.approx([0.5, 2 / 3, 1.0])
    assert out["accuracy"] == pytest.approx(4 / 5)
    assert out["mean_iou"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert out["class_accuracy"] == pytest.approx((0.5 + 1 + 1) / 3)


def test_batches_shard_like_distributed_sampler():
    x, y = torch.arange(10).float(), torch.arange(10)
    seen = []
    for rank in (0, 1):
        batches = InMemoryBatches(x, y, batch_size=2, shuffle=True, seed=3).shard(rank, 2)
        batches.set_epoch(1)
        seen += [int(v) for _, yb in batches for v in yb]
        assert len(batches) == 3
    assert sorted(seen) == list(range(10))
    a = [yb.tolist() for _, yb in InMemoryBatches(x, y, 4, shuffle=True, seed=3)]
    b = [yb.tolist() for _, yb in InMemoryBatches(x, y, 4, shuffle=True, seed=3)]
    assert a == b and a != [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.parametrize("args, message", [
    (["train", "mnist", "--no-such-flag"], "Error: No such option: --no-such-flag"),
    (["train", "mnist", "--epochs", "x"], "Error: Invalid value for '--epochs'"),
])
def test_usage_errors_are_one_message_and_exit_2(cli, args, message):
    """A mistyped flag or value is the user's error: Click's usage line and message, exit 2, no 'internal error'."""
    code, _, err = cli(*args)
    assert code == 2 and message in err and "internal error" not in err


def test_fit_validates_every_nth_epoch_and_the_last(tmp_path):
    """val_every=2 over 5 epochs: validation after epochs 2, 4 and 5 only, and the best weights come from one of
    those (a train-only epoch never becomes the best)."""
    from safetensors import safe_open

    from shinsou.engine.trainer import fit, make_fabric

    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).long()
    model = torch.nn.Linear(4, 2)
    fabric = make_fabric(1, precision="32-true")
    history = fit(fabric, model, torch.optim.SGD(model.parameters(), lr=0.5), InMemoryBatches(x, y, 16, shuffle=True),
                  InMemoryBatches(x, y, 32), loss_fn=torch.nn.functional.cross_entropy,
                  new_metric=lambda: ConfusionMatrix(2), epochs=5, run_dir=tmp_path, val_every=2, log=lambda line: None)
    assert [("val_accuracy" in h) for h in history] == [False, True, False, True, True]
    with safe_open(str(tmp_path / "best.safetensors"), "pt") as f:
        assert int(f.metadata()["epoch"]) in (2, 4, 5)


class LossDictModel(torch.nn.Module):
    """Like torchvision's detection models: in training, forward(x, targets) returns a dict of named losses;
    in eval mode it returns predictions."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x, targets=None):
        logits = self.linear(x)
        if self.training:
            return {"loss_classifier": torch.nn.functional.cross_entropy(logits, targets),
                    "loss_l2": 1e-3 * self.linear.weight.pow(2).sum()}
        return logits


def test_fit_accepts_a_model_that_returns_a_loss_dict(tmp_path):
    from shinsou.engine.trainer import fit, make_fabric

    torch.manual_seed(0)
    x = torch.randn(128, 4)
    y = (x[:, 0] - x[:, 1] > 0).long()
    model = LossDictModel()
    forward = lambda m, batch: (m(batch[0], batch[1]) if m.training else m(batch[0]), batch[1])  # noqa: E731
    history = fit(make_fabric(1, precision="32-true"), model, torch.optim.SGD(model.parameters(), lr=0.5),
                  InMemoryBatches(x, y, 16, shuffle=True), InMemoryBatches(x, y, 64), loss_fn=None,
                  new_metric=lambda: ConfusionMatrix(2), epochs=6, run_dir=tmp_path, forward=forward,
                  log=lambda line: None)
    first, last = history[0], history[-1]
    assert last["train_loss"] < first["train_loss"]
    assert last["train_loss"] == pytest.approx(last["train_loss_classifier"] + last["train_loss_l2"])
    assert last["val_accuracy"] > 0.9 and "val_loss" not in last  # eval mode gives predictions, scored by the metric
