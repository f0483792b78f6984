"""Song settings files (TOML): the same names as ``songbridge generate``'s options, plus ``lyrics`` (a path
relative to the settings file). Read strictly: unknown keys and wrong types name the file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError
from engine.song.reader import Obj
from presets.toml_files import read_toml

#: the allowed range of each numeric setting (inclusive), for settings files and the matching command-line options
RANGES: dict[str, tuple[float, float]] = {"bpm": (20, 400), "takes": (1, 16), "seed": (0, 2**32 - 1),
                                          "duration": (1, 900), "bars_per_line": (0.25, 16)}

SETTINGS_KEYS = ("title", "style", "bpm", "key", "meter", "sections", "takes", "seed", "duration", "backend",
                 "bars_per_line")


def settings_lyrics(settings_path: str, settings: dict[str, Any]) -> str | None:
    """The lyrics file a settings file names (relative to the settings file), if any."""
    name = settings.get("lyrics")
    return str((Path(settings_path).parent / name).resolve()) if name else None


def read_settings(path: str) -> dict[str, Any]:
    """A song settings file (TOML): the same names as the command-line options."""
    data = read_toml(path, SongBridgeError)
    o = Obj(data, path, "settings", SongBridgeError)
    out = {
        "lyrics": o.str("lyrics", None),
        "title": o.str("title", None), "style": o.str("style", None), "bpm": o.float("bpm", None, *RANGES["bpm"]),
        "key": o.str("key", None), "meter": o.str("meter", None), "sections": o.str("sections", None),
        "takes": o.int("takes", None, *RANGES["takes"]), "seed": o.int("seed", None, *RANGES["seed"]),
        "duration": o.float("duration", None, *RANGES["duration"]), "backend": o.str("backend", None),
        "bars_per_line": o.float("bars_per_line", None, *RANGES["bars_per_line"]),
    }
    o.done()
    return {k: v for k, v in out.items() if v is not None}


