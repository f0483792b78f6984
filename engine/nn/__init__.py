"""Neural network code: the DiffRhythm-compatible DiT and its blocks. Pure tensor code: no files, no devices."""

from .cfm import CFM, SampleResult
from .dit import DiT, DiTConfig

__all__ = ["CFM", "DiT", "DiTConfig", "SampleResult"]
