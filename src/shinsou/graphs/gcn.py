"""GCN models on torch_geometric's GCNConv, Kipf & Welling 2017 (ICLR, "Semi-Supervised Classification with
Graph Convolutional Networks"): H' = act(D^-1/2 (A+I) D^-1/2 H W); a node classifier and a graph model (pooling + head)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GCNConv, global_add_pool, global_max_pool, global_mean_pool

from shinsou.errors import unknown_name
from shinsou.models.layers import make_classifier

# Architectures as data: hidden widths of the GCN layers and the options around them.
NODE_CONFIGS = {
    "kipf": dict(hidden=[16], dropout=0.5, activation="relu"),  # the paper's model for Cora, CiteSeer, PubMed
}
GRAPH_CONFIGS = {
    # the plain molecule GCN: three GCN layers, mean pooling, one hidden layer in the head
    "gcn": dict(hidden=[128, 128, 128], dropout=0.1, pooling="mean", jumping_knowledge=False, edge_dim=0, head=[128]),
    # the same GCN core with bond-aware edge weights, every layer's states kept (jumping knowledge), mean+max pooling
    "gcn-jk": dict(hidden=[128, 128, 128], dropout=0.1, pooling="mean+max", jumping_knowledge=True, edge_dim=6,
                   head=[128]),
}
POOLINGS = {"mean": [global_mean_pool], "max": [global_max_pool], "add": [global_add_pool],
            "mean+max": [global_mean_pool, global_max_pool], "mean+add": [global_mean_pool, global_add_pool]}
ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh}


def _edge_weight(data) -> torch.Tensor | None:
    weight = getattr(data, "edge_weight", None)
    return weight if isinstance(weight, torch.Tensor) else None


def ring_graph(num_nodes: int, in_channels: int, edge_dim: int = 0, seed: int = 0) -> Data:
    """A small undirected ring with random features: the example input of the models below."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.arange(num_nodes)
    dst = (src + 1) % num_nodes
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])  # (2, 2N)
    data = Data(x=torch.rand(num_nodes, in_channels, generator=generator), edge_index=edge_index)
    if edge_dim:
        data.edge_attr = torch.rand(edge_index.shape[1], edge_dim, generator=generator)
    return data


class GCNNodeClassifier(nn.Module):
    """Kipf & Welling's semi-supervised node classifier: GCN layers (activation, dropout), then a last GCN
    layer that gives each node its class logits; the softmax/cross-entropy is taken on labelled nodes only.

    Shapes: data.x (N, in_channels), data.edge_index (2, E), optional data.edge_weight (E,) -> (N, num_classes).
    """

    def __init__(self, in_channels: int, num_classes: int, hidden: Sequence[int] = (16,), dropout: float = 0.5,
                 activation: str = "relu"):
        super().__init__()
        widths = [in_channels, *hidden]
        self.convs = nn.ModuleList(GCNConv(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.head = GCNConv(widths[-1], num_classes)
        self.dropout, self.act = dropout, ACTIVATIONS[activation]
        self.in_channels = in_channels

    def features(self, data: Data) -> torch.Tensor:
        """(N, in_channels) -> (N, hidden[-1]): the hidden-layer embedding of every node."""
        x, edge_index, weight = data.x, data.edge_index, _edge_weight(data)
        for conv in self.convs:
            x = F.dropout(x, self.dropout, self.training)
            x = self.act(conv(x, edge_index, weight))  # (N, hidden[i])
        return x

    def forward(self, data: Data) -> torch.Tensor:
        x = F.dropout(self.features(data), self.dropout, self.training)
        return self.head(x, data.edge_index, _edge_weight(data))  # (N, num_classes) logits

    def reset_classifier(self, num_classes: int) -> None:
        self.head = GCNConv(self.head.in_channels, num_classes)

    def example_input(self) -> Data:
        return ring_graph(5, self.in_channels)


class GCNGraphModel(nn.Module):
    """GCN layers over the nodes of each graph -> global pooling per graph -> MLP head: one graph, one
    prediction (a class's logits or a regression value). The options are honest additions around the GCN core:
    `edge_dim` > 0 turns each edge's features (bond type...) into a positive GCN edge weight per layer;
    `jumping_knowledge` pools the concatenation of every layer's node states (Xu et al. 2018) instead of the last;
    `pooling` 'mean', 'max', 'add' or 'mean+max'; `graph_feature_dim` > 0 concatenates each graph's own
    features (data.graph_features: Morgan bits, descriptors), standardised by stored training statistics, to the
    pooled embedding before the head; `graph_feature_clip` first clips them to stored training bounds (a
    descriptor far outside the training range would otherwise dominate the head on an unseen chemotype).

    Shapes: data.x (N, in_channels), data.edge_index (2, E), data.edge_attr (E, edge_dim), data.batch (N,),
    data.graph_features (B, graph_feature_dim) -> (B, num_outputs).
    """

    def __init__(self, in_channels: int, num_outputs: int, hidden: Sequence[int] = (128, 128, 128),
                 dropout: float = 0.1, pooling: str = "mean", jumping_knowledge: bool = False, edge_dim: int = 0,
                 head: Sequence[int] = (128,), batch_norm: bool = True, graph_feature_dim: int = 0,
                 graph_feature_clip: bool = False):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r} (known: {', '.join(POOLINGS)})")
        widths = [in_channels, *hidden]
        self.convs = nn.ModuleList(GCNConv(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) if batch_norm else nn.Identity() for b in hidden)
        # one learned weight per edge and layer from the edge's features: softplus keeps D^-1/2 (A+I) D^-1/2 defined
        self.edge_gates = nn.ModuleList(nn.Linear(edge_dim, 1) for _ in hidden) if edge_dim else None
        self.pooling, self.jumping_knowledge, self.dropout = pooling, jumping_knowledge, dropout
        self.in_channels, self.edge_dim, self.graph_feature_dim = in_channels, edge_dim, graph_feature_dim
        # training-set mean and std of the graph features, saved with the weights so that inference standardises alike
        self.register_buffer("graph_feature_mean", torch.zeros(graph_feature_dim))
        self.register_buffer("graph_feature_std", torch.ones(graph_feature_dim))
        self.graph_feature_clip = graph_feature_clip
        if graph_feature_clip:  # training-set bounds (percentiles); runs saved before clipping have none
            self.register_buffer("graph_feature_low", torch.full((graph_feature_dim,), -torch.inf))
            self.register_buffer("graph_feature_high", torch.full((graph_feature_dim,), torch.inf))
        node_width = sum(hidden) if jumping_knowledge else hidden[-1]
        self.embedding_dim = node_width * len(POOLINGS[pooling]) + graph_feature_dim
        self.head = make_classifier([self.embedding_dim, *head, num_outputs], dropout=dropout)

    def node_features(self, data) -> torch.Tensor:
        """(N, in_channels) -> (N, hidden[-1]), or (N, sum(hidden)) with jumping knowledge."""
        x, edge_index = data.x, data.edge_index
        states = []
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            weight = None
            if self.edge_gates is not None:
                weight = F.softplus(self.edge_gates[i](data.edge_attr)).squeeze(-1)  # (E,)
            x = F.relu(norm(conv(x, edge_index, weight)))  # (N, hidden[i])
            x = F.dropout(x, self.dropout, self.training)
            states.append(x)
        return torch.cat(states, dim=1) if self.jumping_knowledge else x

    def features(self, data) -> torch.Tensor:
        """(N, in_channels) node inputs -> (B, embedding_dim): the learned graph embedding (plus fingerprint)."""
        x = self.node_features(data)
        batch = data.batch if getattr(data, "batch", None) is not None else x.new_zeros(x.shape[0], dtype=torch.long)
        size = int(batch.max()) + 1 if batch.numel() else 1
        pooled = [pool(x, batch, size) for pool in POOLINGS[self.pooling]]  # each (B, node_width)
        if self.graph_feature_dim:
            extra = data.graph_features.to(x.dtype)  # (B, graph_feature_dim)
            if self.graph_feature_clip:
                extra = torch.clamp(extra, self.graph_feature_low, self.graph_feature_high)
            extra = (extra - self.graph_feature_mean) / self.graph_feature_std
            pooled.append(extra)  # (B, graph_feature_dim)
        return torch.cat(pooled, dim=1)  # (B, embedding_dim)

    def forward(self, data) -> torch.Tensor:
        return self.head(self.features(data))  # (B, num_outputs)

    def reset_classifier(self, num_outputs: int) -> None:
        self.head[-1] = nn.Linear(self.head[-1].in_features, num_outputs)

    def set_graph_feature_stats(self, mean: torch.Tensor, std: torch.Tensor, low: torch.Tensor | None = None,
                                high: torch.Tensor | None = None) -> None:
        """Store the standardisation of the graph features, (graph_feature_dim,) each, from the training graphs,
        and (with graph_feature_clip) the bounds they are clipped to first."""
        self.graph_feature_mean.copy_(mean)
        self.graph_feature_std.copy_(std)
        if self.graph_feature_clip and low is not None and high is not None:
            self.graph_feature_low.copy_(low)
            self.graph_feature_high.copy_(high)

    def example_input(self) -> Batch:
        graphs = [ring_graph(n, self.in_channels, self.edge_dim, seed=n) for n in (4, 6)]
        if self.graph_feature_dim:
            for g in graphs:
                g.graph_features = torch.zeros(1, self.graph_feature_dim)
        return Batch.from_data_list(graphs)


def gcn_node(in_channels: int = 34, num_classes: int = 4, config: str = "kipf", **options) -> GCNNodeClassifier:
    """Node classifier; defaults fit Zachary's karate club (34 one-hot node features, 4 communities)."""
    if config not in NODE_CONFIGS:
        raise unknown_name("node GCN config", config, NODE_CONFIGS)
    return GCNNodeClassifier(in_channels, num_classes, **{**NODE_CONFIGS[config], **options})


def gcn_graph(in_channels: int = 42, num_outputs: int = 2, config: str = "gcn", ensemble: int = 1,
              **options) -> nn.Module:
    """Graph classifier/regressor; defaults fit the molecule featuriser (42 atom features) and a two-class target.
    `ensemble` > 1 gives a GraphEnsemble of that many such GCNs (each trained on its own, outputs averaged)."""
    if config not in GRAPH_CONFIGS:
        raise unknown_name("graph GCN config", config, GRAPH_CONFIGS)
    if ensemble > 1:
        from shinsou.graphs.ensemble import GraphEnsemble

        return GraphEnsemble([gcn_graph(in_channels, num_outputs, config, **options) for _ in range(ensemble)])
    return GCNGraphModel(in_channels, num_outputs, **{**GRAPH_CONFIGS[config], **options})
