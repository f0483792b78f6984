"""Where stem-separation models live in the models folder (no torch here: the session and the bridge ask whether
one is installed without loading anything)."""

from __future__ import annotations

from pathlib import Path

from engine.errors import SongBridgeError

FOLDERS = ("HTDemucs", "HTDemucs-ft", "demucs")
LICENCE = "MIT (demucs and its HTDemucs weights, Meta Platforms)"
WHERE = ("download the HTDemucs model (htdemucs.yaml and its .safetensors file, Hugging Face adefossez/HTDemucs) "
         "into MODELS/HTDemucs/")


class SeparationModelError(SongBridgeError):
    """A stem-separation model is missing, refused or unreadable; the message names the file and why."""


def find_model(models: Path) -> Path | None:
    """The first model found: a bag's yaml in one of ``FOLDERS``, else a single weights file there."""
    for sub in FOLDERS:
        folder = models / sub
        if not folder.is_dir():
            continue
        for pattern in ("*.yaml", "*.safetensors", "*.th"):
            found = sorted(folder.glob(pattern))
            if found:
                return found[0]
    return None
