"""Reading the official weight files strictly: every key the model needs present with its shape, nothing left
over; otherwise an error naming the file, the counts and the first few names."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from engine.errors import SongBridgeError

SHOWN = 5


class AceStepLoadError(SongBridgeError):
    """An ACE-Step file that is missing or does not fit the model its config describes."""


def _first(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f", … ({len(names) - SHOWN} more)" if len(names) > SHOWN else "")


def key_report(expected: Mapping[str, Sequence[int]], found: Mapping[str, Sequence[int]]) -> list[str]:
    """Differences between two {name: shape} maps as readable lines (empty when they agree)."""
    missing = sorted(k for k in expected if k not in found)
    unexpected = sorted(k for k in found if k not in expected)
    wrong = sorted(k for k in expected if k in found and tuple(expected[k]) != tuple(found[k]))
    lines = []
    if missing:
        lines.append(f"{len(missing)} missing: {_first(missing)}")
    if unexpected:
        lines.append(f"{len(unexpected)} unexpected: {_first(unexpected)}")
    if wrong:
        lines.append(f"{len(wrong)} with another shape: " + _first(
            [f"{k} {list(found[k])} (expected {list(expected[k])})" for k in wrong]))
    return lines


def read_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise AceStepLoadError(f"{path}: the weights file is missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise AceStepLoadError(f"{path}: not a readable safetensors file ({e})") from None


def load_strict(module: nn.Module, state: Mapping[str, Tensor], source: str | os.PathLike[str],
                what: str, dtype: torch.dtype = torch.float32) -> None:
    """Load ``state`` into ``module`` (built on any device, meta included) with every key and shape checked
    first; nothing is loaded when they disagree."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    lines = key_report(expected, found)
    if lines:
        raise AceStepLoadError(f"{source}: does not fit the {what} its config describes ({len(found)} keys in the "
                               f"file, {len(expected)} expected): " + "; ".join(lines))
    converted = {}
    for k, v in state.items():
        if not v.is_floating_point():
            raise AceStepLoadError(f"{source}: tensor {k} has dtype {v.dtype}, a floating-point weight is expected")
        converted[k] = v.to(dtype)
    module.load_state_dict(converted, strict=True, assign=True)


def read_silence(path: Path, channels: int) -> Tensor:
    """``silence_latent.pt``: stored [1, channels, L] (channels first) -> [1, L, channels] float32."""
    if not path.is_file():
        raise AceStepLoadError(f"{path}: the silence latent is missing")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of files it then refuses anyway
            warnings.simplefilter("ignore", UserWarning)
            t = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch.load raises many kinds (pickle, zip, runtime)
        first = (str(e).strip().splitlines() or [""])[0][:160]
        raise AceStepLoadError(f"{path}: not a tensor file that loads safely (weights only) "
                               f"({type(e).__name__}: {first})") from None
    if not isinstance(t, Tensor) or t.ndim != 3 or t.shape[0] != 1 or t.shape[1] != channels or t.shape[2] < 1:
        shape = list(t.shape) if isinstance(t, Tensor) else type(t).__name__
        raise AceStepLoadError(f"{path}: expected a tensor [1, {channels}, frames], found {shape}")
    return t.float().transpose(1, 2).contiguous()
