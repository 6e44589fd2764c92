"""Attacks behind one registry, built on torchattacks 3.5.1 and extended by subclassing where it falls short.

Every factory takes the attacked model (an :class:`~bench.robustness.adapter.AttackableSNN`), ``eps`` and the
protocol's parameters, and returns a callable ``atk(images, labels) -> adversarial images`` in [0, 1] with
``||adv - images||_inf <= eps`` (Gaussian noise excepted: its std is eps). ``step_size`` is a fraction of eps,
``eot`` the number of encoder draws whose gradients are averaged per step (Athalye et al. 2018).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
import torchattacks
from torch import Tensor, nn
from torchattacks.attack import Attack

from bench.registry import Registry

__all__ = ["EOTFGSM", "Transfer", "attacks", "build_attack"]

attacks: Registry = Registry("attack")


class EOTFGSM(torchattacks.FGSM):
    r"""FGSM whose gradient is the mean over ``eot_iter`` forward/backward passes (torchattacks' FGSM has no EOT).

    Distance Measure : Linf.  :math:`x' = \mathrm{clip}_{[0,1]}(x + \epsilon\, \mathrm{sign}(\frac1k \sum_i
    \nabla_x L(f_i(x), y)))`.
    """

    def __init__(self, model: nn.Module, eps: float = 8 / 255, eot_iter: int = 1) -> None:
        super().__init__(model, eps)
        self.eot_iter = eot_iter

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        images = images.clone().detach().to(self.device).requires_grad_(True)
        labels = labels.clone().detach().to(self.device)
        grad = torch.zeros_like(images)
        for _ in range(self.eot_iter):
            loss = F.cross_entropy(self.get_logits(images), labels)
            grad += torch.autograd.grad(loss, images)[0]
        return (images + self.eps * (grad / self.eot_iter).sign()).clamp(0, 1).detach()


class Transfer(Attack):
    """Black-box transfer: PGD crafted on a *source* model, applied to the attacked one.

    Distance Measure : Linf.
    """

    def __init__(self, model: nn.Module, source: nn.Module, eps: float, alpha: float, steps: int) -> None:
        super().__init__("Transfer", model)
        self.pgd = torchattacks.PGD(source, eps=eps, alpha=alpha, steps=steps, random_start=True)

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        return self.pgd(images, labels)


@attacks.register("fgsm")
def _fgsm(model: nn.Module, eps: float, eot: int = 1) -> Attack:
    return EOTFGSM(model, eps=eps, eot_iter=eot)


@attacks.register("pgd")
def _pgd(model: nn.Module, eps: float, steps: int = 10, step_size: float = 0.25) -> Attack:
    return torchattacks.PGD(model, eps=eps, alpha=step_size * eps, steps=steps, random_start=True)


@attacks.register("eotpgd")
def _eotpgd(model: nn.Module, eps: float, steps: int = 10, step_size: float = 0.25, eot: int = 1):
    return torchattacks.EOTPGD(model, eps=eps, alpha=step_size * eps, steps=steps, eot_iter=eot, random_start=True)


def _apgd(loss: str):
    def build(model: nn.Module, eps: float, steps: int = 100, restarts: int = 1, eot: int = 1, seed: int = 0):
        return torchattacks.APGD(model, norm="Linf", eps=eps, steps=steps, n_restarts=restarts, seed=seed,
                                 loss=loss, eot_iter=eot, rho=0.75, verbose=False)

    return build


attacks.register("apgd-ce")(_apgd("ce"))
attacks.register("apgd-dlr")(_apgd("dlr"))


@attacks.register("square")
def _square(model: nn.Module, eps: float, queries: int = 5000, restarts: int = 1, seed: int = 0):
    return torchattacks.Square(model, norm="Linf", eps=eps, n_queries=queries, n_restarts=restarts, seed=seed,
                               loss="margin", resc_schedule=True, verbose=False)


@attacks.register("gn")
def _gn(model: nn.Module, eps: float) -> Attack:
    return torchattacks.GN(model, std=eps)


@attacks.register("transfer")
def _transfer(model: nn.Module, eps: float, source: nn.Module, steps: int = 10, step_size: float = 0.25):
    return Transfer(model, source, eps=eps, alpha=step_size * eps, steps=steps)


def build_attack(name: str, model: nn.Module, eps: float, **params: Any) -> Attack:
    """Build the registered attack ``name`` against ``model``; unknown names list the choices."""
    if eps < 0:
        raise ValueError(f"epsilon must be >= 0, got {eps}")
    return attacks.build(name, model=model, eps=eps, **params)
