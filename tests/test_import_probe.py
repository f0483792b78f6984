"""Importing any package does nothing: no Qt or torch where the layers forbid them, no threads, no output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = r"""
import json, sys, threading
before = set(sys.modules)
import {module}
loaded = sorted(set(sys.modules) - before)
print(json.dumps({{"loaded": loaded, "threads": threading.active_count()}}))
"""

HEAVY = ("torch", "PySide6", "numpy", "pedalboard", "sounddevice", "rtmidi", "safetensors", "nltk")


def probe(module: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stderr == "", out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, f"importing {module} printed something: {out.stdout!r}"
    return json.loads(lines[0])


@pytest.mark.parametrize("module", ["songbridge", "songbridge.cli", "gui", "daw_bridge", "engine", "presets",
                                    "engine.song", "engine.lyrics", "engine.audio", "engine.backends"])
def test_import_is_light_and_quiet(module: str) -> None:
    result = probe(module)
    heavy = [m for m in result["loaded"] if m.split(".")[0] in HEAVY]
    assert heavy == [], f"importing {module} pulled in {heavy}"
    assert result["threads"] == 1, f"importing {module} started threads"


@pytest.mark.parametrize("module,forbidden", [
    ("engine.lyrics.lint", ("PySide6", "torch")),
    ("engine.song.document", ("PySide6", "torch")),
    ("daw_bridge", ("PySide6", "torch")),
    ("presets", ("PySide6", "torch")),
    ("engine.audio", ("PySide6", "torch")),
])
def test_layers_hold_at_runtime(module: str, forbidden: tuple[str, ...]) -> None:
    loaded = probe(module)["loaded"]
    assert not [m for m in loaded if m.split(".")[0] in forbidden]
