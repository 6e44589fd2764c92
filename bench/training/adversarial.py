"""Adversarial training for SpikingClassifier: attacks crafted through the encoder with a chosen gradient mode.

The CertifiedSNN recipe is PGD with eps 8/255, step 2/255 (``step_size: 0.25`` of eps) and 4 steps, through
the rate encoder's straight-through backward. FGSM and Gaussian-noise training (``attack: gn``, std = eps) use
the same spec. The SNN-RAT regularizer (Ding et al., NeurIPS 2022) is :func:`parseval_retraction`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from bench.robustness.adapter import AttackableSNN, check_gradient_mode
from bench.robustness.attacks import build_attack
from bench.robustness.protocol import parse_epsilon

__all__ = ["AdversarialTraining", "parseval_retraction"]

TRAINING_ATTACKS = ("pgd", "fgsm", "gn")


@dataclass(frozen=True)
class AdversarialTraining:
    """What to train on instead of clean inputs (the YAML block ``model.adversarial``).

    Args:
        attack: "pgd", "fgsm" or "gn" (Gaussian noise with std = eps).
        eps: l_inf radius (or noise std) in [0, 1] pixel units; "8/255" is accepted.
        steps: PGD iterations.
        step_size: PGD step as a fraction of eps.
        gradient_mode: how the attack differentiates the SNN (see bench.robustness.adapter).
        eot: encoder draws averaged per FGSM gradient.
    """

    attack: str = "pgd"
    eps: float = 8 / 255
    steps: int = 4
    step_size: float = 0.25
    gradient_mode: str = "own"
    eot: int = 1

    def __post_init__(self) -> None:
        if self.attack not in TRAINING_ATTACKS:
            raise ValueError(f"unknown adversarial training attack {self.attack!r}; choose one of "
                             f"{', '.join(TRAINING_ATTACKS)}")
        object.__setattr__(self, "eps", parse_epsilon(self.eps).value)
        check_gradient_mode(self.gradient_mode)

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> AdversarialTraining | None:
        return None if not config else cls(**config)

    def __call__(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """Adversarial inputs for ``model`` (crafted in eval mode, as torchattacks does), detached."""
        params: dict[str, Any] = {"pgd": {"steps": self.steps, "step_size": self.step_size},
                                  "fgsm": {"eot": self.eot}, "gn": {}}[self.attack]
        attack = build_attack(self.attack, AttackableSNN(model, self.gradient_mode), self.eps, **params)
        return attack(x, y).detach()


@torch.no_grad()
def parseval_retraction(model: nn.Module, beta: float) -> None:
    r"""SNN-RAT's orthogonal retraction after each step, for every conv and linear weight (as a matrix W
    with one row per output): :math:`W \leftarrow (1 + \beta) W - \beta W W^\top W`, keeping W near a Parseval
    tight frame so that each layer's Lipschitz constant stays near 1."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            w = module.weight.view(module.weight.shape[0], -1)
            if w.shape[0] > w.shape[1]:  # act on the smaller Gram matrix
                w.copy_((1 + beta) * w - beta * (w @ w.T) @ w)
            else:
                w.copy_((1 + beta) * w - beta * w @ (w.T @ w))
