r"""Losses on time-major logits ``[T, B, C]``.

- ``mean_ce``: cross-entropy of the time-mean logits, :math:`\mathrm{CE}(\frac1T \sum_t o_t, y)`.
- ``tet``: Temporal Efficient Training (Deng et al., ICLR 2022, arXiv:2202.11946),
  :math:`(1-\lambda)\frac1T\sum_t \mathrm{CE}(o_t, y) + \lambda\, \mathrm{MSE}(o, \phi)` with
  :math:`\phi = 1` as in the TET and LocalZO code.

>>> logits = torch.zeros(4, 2, 3)
>>> round(mean_ce(logits, torch.tensor([0, 1])).item(), 4)  # log 3
1.0986
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["mean_ce", "tet"]


def mean_ce(logits_seq: Tensor, target: Tensor) -> Tensor:
    """Cross-entropy of the mean over time of ``logits_seq`` ``[T, B, C]``."""
    return F.cross_entropy(logits_seq.mean(0), target)


def tet(logits_seq: Tensor, target: Tensor, lamb: float = 0.05, phi: float = 1.0) -> Tensor:
    """TET loss: per-step cross-entropy, regularized towards ``phi`` with weight ``lamb``."""
    per_step = F.cross_entropy(logits_seq.flatten(0, 1), target.repeat(logits_seq.shape[0]))
    return (1.0 - lamb) * per_step + lamb * F.mse_loss(logits_seq, torch.full_like(logits_seq, phi))
