"""Repack torchattacks' wheel so that it installs cleanly beside datasets and wandb.

torchattacks 3.5.1 (its last release) declares ``requests~=2.25.1`` although only the copy of
``robustbench`` bundled in its wheel imports requests; that pin conflicts with ``datasets>=3.2`` and
that bundled top-level ``robustbench`` package shadows the real one. This script rewrites the wheel
without the pin and without the bundled package (the attack code is untouched), so ``pip check`` stays
clean. ``make install`` runs it; by hand::

    pip download --no-deps torchattacks==3.5.1 -d wheels/
    python -m bench.tools.torchattacks_wheel wheels/torchattacks-3.5.1-py3-none-any.whl out/
    pip install out/torchattacks-3.5.1-py3-none-any.whl
"""

from __future__ import annotations

import base64
import hashlib
import sys
import zipfile
from pathlib import Path

__all__ = ["repack"]

DROP_PACKAGES = ("robustbench/",)
DROP_REQUIREMENTS = ("requests",)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack(wheel: Path, out_dir: Path) -> Path:
    """Write ``out_dir/<same name>.whl`` without the dropped packages and requirements; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / wheel.name
    with zipfile.ZipFile(wheel) as src:
        files = {name: src.read(name) for name in src.namelist() if not name.startswith(DROP_PACKAGES)}
    record_name = next(n for n in files if n.endswith(".dist-info/RECORD"))
    metadata_name = next(n for n in files if n.endswith(".dist-info/METADATA"))
    metadata = files[metadata_name].decode().splitlines(keepends=True)
    files[metadata_name] = "".join(
        line for line in metadata if not line.startswith(tuple(f"Requires-Dist: {r}" for r in DROP_REQUIREMENTS))
    ).encode()
    top_level = next((n for n in files if n.endswith(".dist-info/top_level.txt")), None)
    if top_level:
        kept = [p for p in files[top_level].decode().split() if f"{p}/" not in DROP_PACKAGES]
        files[top_level] = ("\n".join(kept) + "\n").encode()
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in files.items() if name != record_name]
    files[record_name] = ("\n".join([*record, f"{record_name},,"]) + "\n").encode()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in files.items():
            dst.writestr(name, data)
    return target


if __name__ == "__main__":
    print(repack(Path(sys.argv[1]), Path(sys.argv[2])))
