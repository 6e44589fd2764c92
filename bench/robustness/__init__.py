"""Robustness evaluation: the attackable model, attacks, protocols, flags and the evaluate command."""

from bench.robustness.adapter import GRADIENT_MODES, AttackableSNN, check_gradient_mode
from bench.robustness.attacks import EOTFGSM, Transfer, attacks, build_attack
from bench.robustness.flags import Flag, worst_case
from bench.robustness.protocol import CellSpec, Epsilon, Protocol, load_protocol, parse_epsilon

__all__ = [
    "EOTFGSM",
    "GRADIENT_MODES",
    "AttackableSNN",
    "CellSpec",
    "Epsilon",
    "Flag",
    "Protocol",
    "Transfer",
    "attacks",
    "build_attack",
    "check_gradient_mode",
    "load_protocol",
    "parse_epsilon",
    "worst_case",
]
