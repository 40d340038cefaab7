"""Mini-batches of many small graphs as PyG `Batch`es (disjoint union, `batch` vector mapping nodes to graphs),
shuffled by a per-epoch seed so that runs and resumed runs repeat (engine/batches.py's contract)."""

from __future__ import annotations

import torch
from torch_geometric.data import Batch, Data


class GraphBatches:
    """Iterates Batch.from_data_list(graphs[idx]) over shuffled or ordered index slices."""

    def __init__(self, graphs: list[Data], batch_size: int, shuffle: bool = False, seed: int = 0):
        self.graphs, self.batch_size, self.shuffle, self.seed = graphs, batch_size, shuffle, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.graphs) // self.batch_size)

    def __iter__(self):
        n = len(self.graphs)
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch))
        else:
            order = torch.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size].tolist()
            yield Batch.from_data_list([self.graphs[j] for j in idx])  # x (sum of atoms, F), batch (sum of atoms,)
