"""Job time estimates that learn from this machine.

Each backend gives a first guess from its own constants (``Backend.estimate``). Every finished generation job
records its measured wall time and the seconds of audio it made, per backend, in ``estimates.json`` in the user's
data folder; once a backend has a record, the estimate is its running average cost per second of audio (weighted
towards recent jobs) times the request's length. The file is small, written atomically, and a damaged one is
ignored (the estimate falls back to the backend's guess).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError
from engine.safe_fs import write_atomic

ALPHA = 0.3  # weight of the newest job in the running average
FILE = "estimates.json"


def book_path() -> Path:
    env = os.environ.get("SONGBRIDGE_DATA")
    if env:
        return Path(env).expanduser() / FILE
    from platformdirs import user_data_dir

    return Path(user_data_dir("songbridge", appauthor=False)) / FILE


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def learned_rate(backend: str, path: Path | None = None) -> float | None:
    """Measured seconds of work per second of audio for ``backend``, or None before its first job."""
    rec = _load(path or book_path()).get(backend)
    try:
        rate = float(rec["seconds_per_audio_second"]) if isinstance(rec, dict) else None
    except (KeyError, TypeError, ValueError):
        return None
    return rate if rate is not None and 0 < rate < 1e6 else None


def estimate_seconds(backend: str, audio_s: float, guess_s: float, path: Path | None = None) -> float:
    """The learned estimate for ``audio_s`` seconds of audio, or the backend's own guess before any record."""
    rate = learned_rate(backend, path)
    return guess_s if rate is None else rate * audio_s


def record_job(backend: str, audio_s: float, seconds: float, path: Path | None = None) -> None:
    """Fold one finished job into the running average. Never raises: estimates must not fail a job."""
    if audio_s <= 0 or seconds <= 0:
        return
    path = path or book_path()
    try:
        data = _load(path)
        old = learned_rate(backend, path)
        rate = seconds / audio_s
        new = rate if old is None else (1 - ALPHA) * old + ALPHA * rate
        prev = data.get(backend) if isinstance(data.get(backend), dict) else {}
        data[backend] = {"seconds_per_audio_second": new, "jobs": int(prev.get("jobs", 0)) + 1,
                         "last_seconds": seconds, "last_audio_seconds": audio_s}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data, indent=2))
    except (OSError, SongBridgeError):
        return
