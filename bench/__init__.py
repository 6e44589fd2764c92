"""spikebench: a benchmark for spiking neural networks (import package ``bench``)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spikebench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
