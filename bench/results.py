"""Result records: what was run, on what, and what came out, written atomically as JSON.

Every record carries the provenance design.md asks for: schema and protocol versions, the resolved config
and its hash, the seed, the model description (estimator with parameters, encoder, T, neuron constants),
package versions, git commit, hardware, wall time and the metrics.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "SCHEMA_VERSION",
    "TRAINING_PROTOCOL",
    "config_hash",
    "file_hash",
    "git_state",
    "hardware",
    "package_versions",
    "read_json",
    "run_record",
    "write_json_atomic",
]

SCHEMA_VERSION = 1
TRAINING_PROTOCOL = {
    "name": "clean",
    "version": 1,
    "model_selection": "checkpoint with the best val/acc (validation split carved from train)",
    "test": "the selected checkpoint, evaluated once on the fixed test split",
}
_PACKAGES = ("spikebench", "torch", "lightning", "torchmetrics", "numpy", "jsonargparse", "wandb")


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the config as canonical JSON (sorted keys), hex."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def file_hash(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB chunks (checkpoints and datasets can be large)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that change numbers (None if absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def git_state() -> dict[str, Any]:
    """Commit of the source tree this code runs from, and whether it had uncommitted changes."""
    source = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=source, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if commit else None}


def hardware() -> dict[str, Any]:
    """Machine description: platform, CPU, threads and accelerators."""
    accelerators = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "accelerators": accelerators,
    }


def run_record(
    *,
    config: dict[str, Any],
    seed: int,
    model: dict[str, Any],
    metrics: dict[str, Any],
    wall_time_s: float,
    protocol: dict[str, Any] = TRAINING_PROTOCOL,
    **extra: Any,
) -> dict[str, Any]:
    """Assemble a result record; ``extra`` adds fields such as checkpoint paths.

    ``wall_time_s`` is the wall time of the command that wrote the record (a resumed run counts its own).
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "protocol": protocol,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "model": model,
        "metrics": metrics,
        "wall_time_s": round(wall_time_s, 3),
        "config": config,
        "config_hash": config_hash(config),
        "versions": package_versions(),
        "git": git_state(),
        "hardware": hardware(),
        **extra,
    }


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write JSON to a temporary file beside ``path``, then rename: readers never see half a file.

    Non-finite floats are refused (``allow_nan=False``): JSON has no such numbers.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, allow_nan=False, default=_jsonable)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: str | Path) -> Any:
    """Read a JSON file written by :func:`write_json_atomic`."""
    return json.loads(Path(path).read_text())


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON: {value!r}")
