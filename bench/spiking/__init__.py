"""Pure-torch spiking core: LIF dynamics, gradient estimators, encoders. Imports nothing from above."""

from bench.spiking import encoders, estimators
from bench.spiking.encoders import DirectEncoder, Encoder, FrameEncoder, RateEncoder, direct_encode, rate_encode
from bench.spiking.functional import LIFParameters, LIFState, lif_multistep, lif_step, merge_time, split_time
from bench.spiking.localzo import LocalZO, LocalZOExpected
from bench.spiking.neurons import LIF

__all__ = [
    "LIF",
    "DirectEncoder",
    "Encoder",
    "FrameEncoder",
    "LIFParameters",
    "LIFState",
    "LocalZO",
    "LocalZOExpected",
    "RateEncoder",
    "direct_encode",
    "encoders",
    "estimators",
    "lif_multistep",
    "lif_step",
    "merge_time",
    "rate_encode",
    "split_time",
]
