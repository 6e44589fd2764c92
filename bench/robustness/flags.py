"""Reliability flags in the spirit of AutoAttack's checks: pure functions of recorded numbers.

Each returns a :class:`Flag` when something suggests that the robust accuracy is overestimated, else None.
A flagged result is shown as "potentially unreliable" on the leaderboard.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ["Flag", "black_box_stronger", "large_epsilon_not_zero", "unhandled_randomness", "worst_case",
           "zero_gradients"]


@dataclass(frozen=True)
class Flag:
    name: str
    message: str
    value: float


def worst_case(correct: list[Tensor]) -> Tensor:
    """Per point: robust only if every draw of every cell was correct. ``correct``: bool ``[n, draws]`` each.

    >>> import torch
    >>> a = torch.tensor([[True], [True], [False]]); b = torch.tensor([[True], [False], [True]])
    >>> worst_case([a, b]).tolist()
    [True, False, False]
    """
    robust = correct[0].all(dim=1)
    for cell in correct[1:]:
        robust = robust & cell.all(dim=1)
    return robust


def zero_gradients(zero_fraction: dict[str, float]) -> Flag | None:
    """Any point whose input gradient (margin loss) is exactly zero in some gradient mode: masked gradients."""
    bad = {mode: f for mode, f in zero_fraction.items() if f > 0}
    if not bad:
        return None
    worst = max(bad, key=bad.get)
    return Flag("zero_gradients", f"input gradients are exactly zero for {bad[worst]:.1%} of points with gradient "
                f"mode {worst!r}: white-box attacks through it see nothing", bad[worst])


def black_box_stronger(white_box_robust: Tensor, black_box_robust: Tensor, tolerance: float = 0.002) -> Flag | None:
    """Black-box attacks break points that every white-box attack missed (AutoAttack flags > 0.2 %)."""
    share = float((white_box_robust & ~black_box_robust).float().mean())
    if share <= tolerance:
        return None
    return Flag("black_box_stronger", f"black-box attacks break {share:.1%} of the points that survive every "
                "white-box attack: gradients are likely masked", share)


def large_epsilon_not_zero(accuracy: dict[str, float], eps_label: str, tolerance: float = 0.05) -> Flag | None:
    """At an epsilon that allows any image, every white-box mode must take accuracy to about 0."""
    bad = {mode: acc for mode, acc in accuracy.items() if acc > tolerance}
    if not bad:
        return None
    worst = max(bad, key=bad.get)
    return Flag("large_epsilon_not_zero", f"PGD at eps {eps_label} leaves {bad[worst]:.1%} accuracy through "
                f"gradient mode {worst!r} (should be ~0)", bad[worst])


def unhandled_randomness(prediction_varies: float, eot_used: bool) -> Flag | None:
    """Predictions change between forward passes but the attacks did not average over draws (no EOT)."""
    if prediction_varies == 0 or eot_used:
        return None
    return Flag("unhandled_randomness", f"predictions change between forward passes for {prediction_varies:.1%} "
                "of points, yet attacks used no EOT", prediction_varies)
