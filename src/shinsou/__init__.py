"""shinsou (深層, "deep layers"): the systems of a deep-learning lecture as tested pipelines.
CNNs on MNIST, SegNet, transfer learning, GCNs and a service, on one shared engine."""

__version__ = "0.1.0"
