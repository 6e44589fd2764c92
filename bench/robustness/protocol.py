"""Evaluation protocols: versioned YAML files (configs/protocol/<version>.yaml) turned into a matrix of cells.

A cell is one attack at one epsilon through one gradient mode (black-box attacks have no gradient mode).
The matrix is data: ``Protocol.cells()`` lists it, the evaluator runs it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from bench.results import config_hash
from bench.robustness.adapter import check_gradient_mode

__all__ = ["CellSpec", "CertifySettings", "Epsilon", "Protocol", "load_protocol", "parse_epsilon"]

PROTOCOLS = Path(__file__).resolve().parents[2] / "configs" / "protocol"
BLACK_BOX = ("square", "gn", "transfer")
WHITE_BOX = ("fgsm", "pgd", "eotpgd", "apgd-ce", "apgd-dlr")


@dataclass(frozen=True)
class Epsilon:
    """An l_inf radius in [0, 1] pixel units, with the label it was written as ("8/255")."""

    value: float
    label: str


def parse_epsilon(text: str | float) -> Epsilon:
    """``"8/255"`` or ``"0.3"`` -> Epsilon; negative or non-numeric values raise ValueError.

    >>> parse_epsilon("8/255")
    Epsilon(value=0.03137254901960784, label='8/255')
    """
    label = str(text).strip()
    try:
        value = float(Fraction(label))
    except (ValueError, ZeroDivisionError) as err:
        raise ValueError(f"epsilon {label!r} is not a number or a fraction like 8/255") from err
    if value < 0:
        raise ValueError(f"epsilon must be >= 0, got {label}")
    return Epsilon(value, label)


@dataclass(frozen=True)
class CellSpec:
    """One cell of the attack matrix."""

    attack: str
    eps: Epsilon
    gradient_mode: str | None  # None for black-box attacks
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    role: str = "matrix"  # "matrix" counts towards the worst case; "masking-check" is the huge-eps probe

    @property
    def key(self) -> str:
        """A file-name-safe identifier, unique within a protocol."""
        mode = (self.gradient_mode or "blackbox").replace(":", "-")
        return f"{self.attack}__{mode}__eps{self.eps.label.replace('/', 'over')}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "eps": self.eps.value, "eps_label": self.eps.label}


@dataclass(frozen=True)
class CertifySettings:
    """The certification block: Cohen et al.'s CERTIFY on the first ``subset`` points of the evaluation subset.

    ``sigma`` is the Gaussian smoothing of direct-encoded models (l2); rate-encoded models need none (l1).
    """

    subset: int
    n0: int
    n: int
    alpha: float
    batch_size: int
    chunk: int  # points per resumable job
    l1_radii: tuple[float, ...]
    l2_radii: tuple[float, ...]
    sigma: float | None

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"certify.alpha must be in (0, 1), got {self.alpha}")
        for name in ("subset", "n0", "n", "batch_size", "chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"certify.{name} must be >= 1, got {getattr(self, name)}")
        if self.sigma is not None and not self.sigma > 0:
            raise ValueError(f"certify.sigma must be > 0, got {self.sigma}")


@dataclass(frozen=True)
class Protocol:
    """A resolved protocol for one dataset (``quick`` already applied)."""

    name: str
    seed: int
    subset: int
    draws: int
    gradient_modes: tuple[str, ...]
    attacks: dict[str, dict[str, Any]]
    epsilons: tuple[Epsilon, ...]
    huge_epsilon: Epsilon
    certify: CertifySettings | None = None

    def cells(self, stochastic: bool, transfer: bool) -> list[CellSpec]:
        """The matrix: white-box attacks x gradient modes x epsilons, black-box attacks x epsilons, and the
        huge-epsilon PGD probe per gradient mode. EOT is 1 for deterministic models."""
        cells = []
        for eps in self.epsilons:
            for attack, params in self.attacks.items():
                params = self._effective(params, stochastic)
                if attack in WHITE_BOX:
                    cells += [CellSpec(attack, eps, mode, params) for mode in self.gradient_modes]
                elif attack != "transfer" or transfer:
                    cells.append(CellSpec(attack, eps, None, params))
        if self.epsilons and "pgd" in self.attacks:
            params = self._effective(self.attacks["pgd"], stochastic)
            cells += [CellSpec("pgd", self.huge_epsilon, mode, params, role="masking-check")
                      for mode in self.gradient_modes]
        return cells

    @staticmethod
    def _effective(params: dict[str, Any], stochastic: bool) -> dict[str, Any]:
        return {**params, "eot": params["eot"] if stochastic else 1} if "eot" in params else dict(params)

    def draws_for(self, stochastic: bool) -> int:
        return self.draws if stochastic else 1

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["epsilons"] = [e.label for e in self.epsilons]
        data["huge_epsilon"] = self.huge_epsilon.label
        return data

    @property
    def hash(self) -> str:
        """Hash of the attack matrix's settings (certification settings are fingerprinted per job)."""
        matrix = {k: v for k, v in self.to_dict().items() if k != "certify"}
        return config_hash(json.loads(json.dumps(matrix)))


def load_protocol(name: str, dataset: str, quick: bool = False, epsilons: list[str] | None = None) -> Protocol:
    """Read ``configs/protocol/<name>.yaml`` (or a path) and resolve it for ``dataset``.

    ``epsilons`` overrides the dataset's list (the record says so through the protocol's contents).
    """
    path = Path(name) if name.endswith((".yaml", ".yml")) else PROTOCOLS / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PROTOCOLS.glob("*.yaml"))
        raise FileNotFoundError(f"unknown protocol {name!r}; available: {', '.join(known)} (or a .yaml path)")
    raw = yaml.safe_load(path.read_text())
    settings = {**raw, **({k: v for k, v in raw.get("quick", {}).items() if k != "certify"} if quick else {})}
    if epsilons is None:
        if dataset not in raw["epsilons"]:
            raise ValueError(f"protocol {raw['version']} has no epsilons for dataset {dataset!r} (it has "
                             f"{', '.join(raw['epsilons'])}); pass --epsilons")
        epsilons = raw["epsilons"][dataset]
    unknown = sorted(set(settings["attacks"]) - set(WHITE_BOX) - set(BLACK_BOX))
    if unknown:
        raise ValueError(f"unknown attack(s) {unknown} in {path}; choose from {', '.join(WHITE_BOX + BLACK_BOX)}")
    for mode in settings["gradient_modes"]:
        check_gradient_mode(mode)
    certify = None
    if "certify" in raw:
        block = {**raw["certify"], **(raw.get("quick", {}).get("certify", {}) if quick else {})}
        sigma = block.pop("sigma", {}).get(dataset)
        certify = CertifySettings(**{**block, "l1_radii": tuple(block["l1_radii"]),
                                     "l2_radii": tuple(block["l2_radii"]), "sigma": sigma})
    return Protocol(
        name=raw["version"] + ("-quick" if quick else ""),
        seed=int(settings["seed"]),
        subset=int(settings["subset"]),
        draws=int(settings["draws"]),
        gradient_modes=tuple(settings["gradient_modes"]),
        attacks={k: dict(v or {}) for k, v in settings["attacks"].items()},
        epsilons=tuple(parse_epsilon(e) for e in epsilons),
        huge_epsilon=parse_epsilon(settings["huge_epsilon"]),
        certify=certify,
    )
