"""Which Stable Audio Open models the models folder holds and how long each renders, without torch (the bridge and
the app ask before anything is loaded)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.backends.base import BackendUnavailable

FOLDERS = {"stable-audio": "stable-audio-open-1.0", "stable-audio-small": "stable-audio-open-small"}
LICENCE = ("Stability AI Community License (free for research, non-commercial use and commercial use under US$1M "
           "annual revenue; Enterprise licence above)")
WHERE = ("download model_config.json and model.safetensors (stabilityai/stable-audio-open-1.0) or model.ckpt "
         "(stabilityai/stable-audio-open-small) into MODELS/stable-audio-open-1.0/ or MODELS/stable-audio-open-small/, "
         "and t5-base (config.json, model.safetensors, tokenizer.json; google-t5/t5-base) into MODELS/t5-base/; "
         "or create the tiny random model with `songbridge models create-tiny --kind stable-audio DIR`")


def installed(models: Path, kind: str) -> bool:
    return (models / FOLDERS[kind] / "model_config.json").is_file()


def window_s(models: Path, kind: str) -> float:
    """The model's window in seconds (``sample_size / sample_rate`` of its config); 0 when unreadable."""
    try:
        data = json.loads((models / FOLDERS[kind] / "model_config.json").read_text(encoding="utf-8"))
        return float(data["sample_size"]) / float(data["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return 0.0


def loop_backend(models: Path, seconds: float) -> str:
    """The model for a loop or bed of ``seconds``: Small when it is installed and the length fits its window,
    else 1.0 when installed (Small alone refuses, naming the longest loop it makes)."""
    if installed(models, "stable-audio-small") and seconds <= window_s(models, "stable-audio-small") + 1e-9:
        return "stable-audio-small"
    if installed(models, "stable-audio"):
        return "stable-audio"
    if installed(models, "stable-audio-small"):
        return "stable-audio-small"
    raise BackendUnavailable(f"no Stable Audio Open model in {models}; {WHERE}")
