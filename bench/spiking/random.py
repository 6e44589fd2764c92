"""Seeded random streams that live on whatever device the data is on.

A ``torch.Generator`` is tied to one device and does not move with ``module.to(device)``, so stochastic
parts (rate encoder, LocalZO) hold a seed and make their generator on the device of first use.
"""

from __future__ import annotations

import hashlib

import torch

__all__ = ["DeviceGenerator", "derive_seed", "draw_seed"]


def draw_seed() -> int:
    """A seed taken from torch's global generator: repeatable after ``seed_everything``."""
    return int(torch.randint(0, 2**62, ()).item())


def derive_seed(seed: int, purpose: str) -> int:
    """A seed for one purpose, well mixed from ``seed``: seed 1's streams never replay seed 0's shifted by one.

    >>> derive_seed(0, "eval") == derive_seed(0, "eval") != derive_seed(1, "eval")
    True
    """
    digest = hashlib.sha256(f"{seed}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 2  # < 2**62: fits torch's int64 seeds


class DeviceGenerator:
    """One seeded ``torch.Generator``, created (and re-seeded) on the device it is asked for.

    >>> stream = DeviceGenerator(seed=7)
    >>> a = torch.rand(3, generator=stream.get(torch.device("cpu")))
    >>> b = torch.rand(3, generator=DeviceGenerator(seed=7).get(torch.device("cpu")))
    >>> torch.equal(a, b)
    True
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._generator: torch.Generator | None = None

    def get(self, device: torch.device) -> torch.Generator:
        """The generator on ``device``; a new device restarts the stream from the seed."""
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device).manual_seed(self.seed)
        return self._generator
