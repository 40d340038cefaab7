"""shinsou (深層, "deep layers"): the systems of a deep-learning lecture as tested pipelines.
CNNs on MNIST, SegNet, transfer learning, GCNs and a service, on one shared engine; the API is in api.py."""

__version__ = "0.1.0"


def train(pipeline: str, **options):
    """Train a run: `shinsou.train("mnist", data="digits/", epochs=5)` -> TrainResult(run_dir, metrics, report)."""
    from shinsou.api import train as _train

    return _train(pipeline, **options)


def load(run_dir):
    """A trained run's Predictor, loaded once: `shinsou.load(run_dir).predict(["digit.png"])`."""
    from shinsou.api import load as _load

    return _load(run_dir)


def runs(folder="runs"):
    """The run directories under `folder` with their pipeline, progress, main metric and status."""
    from shinsou.api import runs as _runs

    return _runs(folder)


def explore(pipeline: str, **options):
    """A data report (HTML) for a pipeline's data before training."""
    from shinsou.api import explore as _explore

    return _explore(pipeline, **options)
