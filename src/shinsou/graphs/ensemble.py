"""A deep ensemble of graph models (Lakshminarayanan et al. 2017, "Simple and Scalable Predictive Uncertainty
Estimation using Deep Ensembles"; chemprop's --ensemble_size): members trained from different seeds, outputs averaged."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


class GraphEnsemble(nn.Module):
    """Averages its members: class probabilities for classification (num_outputs > 1), values for regression.

    forward returns what a single member returns, so losses, metrics and prediction treat it alike:
    classification -> (B, K) log of the mean softmax (softmax of it gives the mean probabilities back),
    regression -> (B, 1) mean value.
    """

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, data) -> torch.Tensor:
        outputs = torch.stack([member(data) for member in self.members])  # (M, B, K)
        if outputs.shape[-1] == 1:
            return outputs.mean(0)  # (B, 1)
        return torch.logsumexp(torch.log_softmax(outputs, -1), 0) - math.log(len(self.members))  # (B, K)

    def example_input(self):
        return self.members[0].example_input()
