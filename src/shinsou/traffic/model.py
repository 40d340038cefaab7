"""T-GCN, Zhao et al. 2019 ("T-GCN: A Temporal Graph Convolutional Network for Traffic Prediction", IEEE T-ITS): a GRU
whose gates are graph convolutions (Kipf & Welling 2017, torch_geometric's GCNConv) over the road network, one step per reading."""

from __future__ import annotations

import warnings

import torch
from torch import nn

with warnings.catch_warnings():  # torch_geometric 2.8 still calls torch.jit.script at import, which torch 2.14 deprecates
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
    from torch_geometric.nn import GCNConv
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

# Architecture as data: the sizes the builder uses when a run does not say otherwise
TGCN_SIZES = dict(in_features=4, hidden=64, window=12, horizon=12)


class GraphLinear(nn.Module):
    """A GCN layer (Kipf & Welling 2017) plus, optionally, a separate weight for the node itself (the "root weight"
    of PyG's GraphConv/SAGEConv; the 0-hop term of DCRNN's diffusion convolution):

        out = A_hat z W + b  (+ z W_root)

    Without the root weight a node's own reading is averaged in with its neighbours' (weight 1/(degree+1)), which
    blurs exactly the signal a forecast leans on most; with it the layer sees "me" and "my neighbourhood" apart.

    Shapes: z (M, F_in) -> (M, F_out).
    """

    def __init__(self, in_features: int, out_features: int, root_weight: bool = True):
        super().__init__()
        self.gcn = GCNConv(in_features, out_features, add_self_loops=False, normalize=False)
        self.root = nn.Linear(in_features, out_features, bias=False) if root_weight else None

    def forward(self, z: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        out = self.gcn(z, edge_index, edge_weight)  # (M, F_out)
        return out if self.root is None else out + self.root(z)


class TGCNCell(nn.Module):
    """One GRU step for every node at once, after the authors' TGCNCell: the reset/update gates and the candidate
    state are graph convolutions over [x_t, h_{t-1}], so each node's memory mixes in its neighbours' at every step.

        [r, u] = sigmoid(GC([x_t, h_{t-1}]))
        c      = tanh(GC([x_t, r * h_{t-1}]))
        h_t    = u * h_{t-1} + (1 - u) * c

    GC is `GraphLinear`. A_hat = D^-1/2 (A + I) D^-1/2 comes in already normalised (edge_index with self loops,
    edge_weight the normalised weights): TGCN.forward computes it once per batch, not in each GCNConv call.

    Shapes: x (M, F), h (M, H) -> (M, H), M = batch x nodes (the batch is one graph of disjoint copies).
    """

    def __init__(self, in_features: int, hidden: int, root_weight: bool = True):
        super().__init__()
        self.hidden = hidden
        self.gates = GraphLinear(in_features + hidden, 2 * hidden, root_weight)
        self.candidate = GraphLinear(in_features + hidden, hidden, root_weight)
        nn.init.constant_(self.gates.gcn.bias, 1.0)  # start by keeping the memory, as the authors' code does

    def forward(self, x: torch.Tensor, h: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        gates = torch.sigmoid(self.gates(torch.cat([x, h], -1), edge_index, edge_weight))  # (M, 2H)
        r, u = gates.chunk(2, -1)  # (M, H) each
        c = torch.tanh(self.candidate(torch.cat([x, r * h], -1), edge_index, edge_weight))  # (M, H)
        return u * h + (1 - u) * c


class TGCN(nn.Module):
    """A window of readings on every node -> the next `horizon` speeds on every node.

    The road network lives in two buffers (edge_index, edge_weight), so the checkpoint carries the graph the model
    was trained on. The head forecasts the change from the last reading (standardised), which keeps the untrained
    model at the last-value baseline rather than at zero.

    Shapes: x (B, window, N, in_features), feature 0 the standardised speed -> (B, horizon, N).
    """

    def __init__(self, num_nodes: int, edge_index: torch.Tensor, edge_weight: torch.Tensor, in_features: int = 4,
                 hidden: int = 64, window: int = 12, horizon: int = 12, root_weight: bool = True):
        super().__init__()
        self.num_nodes, self.in_features, self.hidden = num_nodes, in_features, hidden
        self.window, self.horizon = window, horizon
        self.register_buffer("edge_index", edge_index.long().clone())  # (2, E)
        self.register_buffer("edge_weight", edge_weight.float().clone())  # (E,)
        self.cell = TGCNCell(in_features, hidden, root_weight)
        self.head = nn.Linear(hidden, horizon)

    def set_graph(self, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> None:
        if edge_index.shape != self.edge_index.shape:
            raise ValueError(f"the model holds {self.edge_index.shape[1]} edges, got {edge_index.shape[1]}")
        self.edge_index.copy_(edge_index)
        self.edge_weight.copy_(edge_weight)

    def batch_graph(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The normalised network (Kipf & Welling's D^-1/2 (A + I) D^-1/2) repeated `batch` times as one disjoint
        graph: (2, batch * (E + N)) edges and their weights."""
        edge_index, edge_weight = gcn_norm(self.edge_index, self.edge_weight, self.num_nodes, add_self_loops=True)
        offsets = torch.arange(batch, device=edge_index.device).repeat_interleave(edge_index.shape[1]) * self.num_nodes
        return edge_index.repeat(1, batch) + offsets, edge_weight.repeat(batch)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, window, N, F) -> (B, N, hidden): each node's state after the last reading."""
        b, steps, n, f = x.shape
        edge_index, edge_weight = self.batch_graph(b)
        h = x.new_zeros(b * n, self.hidden)  # (B*N, H)
        for t in range(steps):
            h = self.cell(x[:, t].reshape(b * n, f), h, edge_index, edge_weight)  # (B*N, H)
        return h.reshape(b, n, self.hidden)  # (B, N, H)

    def reset_classifier(self, horizon: int) -> None:
        """A new head for another number of forecast steps (the recurrent part is kept)."""
        self.horizon = horizon
        self.head = nn.Linear(self.hidden, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        change = self.head(self.features(x))  # (B, N, horizon)
        last = x[:, -1, :, 0:1]  # (B, N, 1) the last standardised speed
        return (last + change).transpose(1, 2)  # (B, horizon, N)

    def example_input(self, batch: int = 2) -> torch.Tensor:
        """A random input of the right shape, for `shinsou explain model` and smoke tests."""
        generator = torch.Generator().manual_seed(0)
        return torch.randn(batch, self.window, self.num_nodes, self.in_features, generator=generator)


def ring_graph(num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A ring road, both directions, unit weights: the stand-in network of a model built without one."""
    src = torch.arange(num_nodes)
    dst = (src + 1) % num_nodes
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])  # (2, 2N)
    return edge_index, torch.ones(edge_index.shape[1])


def tgcn(num_nodes: int = 20, num_edges: int | None = None, in_features: int = TGCN_SIZES["in_features"],
         hidden: int = TGCN_SIZES["hidden"], window: int = TGCN_SIZES["window"], horizon: int = TGCN_SIZES["horizon"],
         root_weight: bool = True) -> TGCN:
    """T-GCN for `num_nodes` sensors. With `num_edges` the graph buffers are sized for a run's network and filled
    from its checkpoint (or `set_graph`); without, the model gets a ring road so that it runs on its own."""
    if num_edges is None:
        edge_index, edge_weight = ring_graph(num_nodes)
    else:
        edge_index, edge_weight = torch.zeros(2, num_edges, dtype=torch.long), torch.zeros(num_edges)
    return TGCN(num_nodes, edge_index, edge_weight, in_features=in_features, hidden=hidden, window=window,
                horizon=horizon, root_weight=root_weight)
