"""Where things live on this machine: the model folder and the user's settings (platformdirs)."""

from __future__ import annotations

import os
from pathlib import Path


def config_dir() -> Path:
    """The user's settings folder: ``SONGBRIDGE_CONFIG`` when set (tests, portable setups), else platformdirs'."""
    env = os.environ.get("SONGBRIDGE_CONFIG")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("songbridge", appauthor=False))


def default_models_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("songbridge", appauthor=False)) / "models"


def models_dir(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The model folder and where that choice came from: ``--models``, ``SONGBRIDGE_MODELS`` or the default."""
    if explicit:
        return Path(explicit).expanduser().resolve(), "--models"
    env = os.environ.get("SONGBRIDGE_MODELS")
    if env:
        return Path(env).expanduser().resolve(), "SONGBRIDGE_MODELS"
    return default_models_dir(), "default"
