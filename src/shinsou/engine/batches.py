"""Mini-batches from tensors held in memory: one index permutation per epoch (seeded, so runs and
resumed runs repeat), sharded across DDP ranks the way DistributedSampler shards, and a batched transform."""

from __future__ import annotations

from typing import Callable

import torch


class InMemoryBatches:
    """Iterates (transform(x[idx], generator), y[idx]) over shuffled or ordered index slices.

    Whole-batch indexing and a transform that works on the batch replace a DataLoader with
    per-sample transforms, which is where most of the time goes for small images.
    """

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, shuffle: bool = False,
                 seed: int = 0, transform: Callable | None = None, rank: int = 0, world_size: int = 1,
                 drop_last: bool = False):
        if len(inputs) != len(targets):
            raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
        self.inputs, self.targets = inputs, targets
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.transform, self.rank, self.world_size, self.drop_last = transform, rank, world_size, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def shard(self, rank: int, world_size: int) -> "InMemoryBatches":
        self.rank, self.world_size = rank, world_size
        return self

    def _indices(self) -> torch.Tensor:
        n = len(self.inputs)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        if self.world_size > 1:  # pad to a multiple of world_size, then every world_size-th index
            per_rank = -(-n // self.world_size)
            order = torch.cat([order, order[: per_rank * self.world_size - n]])
            order = order[self.rank :: self.world_size]
        return order

    def __len__(self) -> int:
        n = -(-len(self.inputs) // self.world_size)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        order = self._indices()
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch + 7919 * (self.rank + 1))
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            x = self.inputs[idx]
            if self.transform is not None:
                x = self.transform(x, generator)
            yield x, self.targets[idx]
