"""A one-shot ``songbridge generate`` with the guide runs in its own process: no worker process is started and
torch is never imported (the worker's start and imports took longer than the render)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.backends import registry
from tests.conftest import REPO

PROBE = """
import multiprocessing, sys
asked = []
real = multiprocessing.get_context
multiprocessing.get_context = lambda method=None: (asked.append(method), real(method))[1]
from songbridge.cli import main
rc = main(sys.argv[1:])
print("RESULT", rc, "torch" in sys.modules, asked, multiprocessing.active_children())
"""


@pytest.mark.slow
def test_guide_generate_starts_no_worker_and_imports_no_torch(tmp_path: Path) -> None:
    out = tmp_path / "neon"
    r = subprocess.run([sys.executable, "-c", PROBE, "generate", "examples/neon-rain.txt", "--settings",
                        "examples/neon-rain.toml", "--backend", "guide", "-o", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    result = next(line for line in r.stdout.splitlines() if line.startswith("RESULT"))
    assert result == "RESULT 0 False [] []", result  # exit 0, no torch, no process context asked for, no children
    song = json.loads((tmp_path / "neon.songbridge" / "song.json").read_text())
    assert song["takes"][0]["backend"] == "guide"
    assert (tmp_path / "neon.songbridge" / "takes" / song["takes"][0]["id"] / "mix.wav").is_file()


def test_only_model_free_backends_skip_the_worker() -> None:
    assert not registry.needs_worker("guide")
    assert all(registry.needs_worker(n) for n in ("diffrhythm", "stable-audio", "stable-audio-small"))
