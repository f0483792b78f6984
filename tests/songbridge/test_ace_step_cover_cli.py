"""Guide to song from the command line: ``songbridge edit`` of a guide take with ``--backend ace-step`` is a cover of
the whole draft, ``--param cover_strength=...`` reaching the backend headless and through the program holding the
project (OSC ``/songbridge/job/edit`` JSON ``params``); a parameter the backend does not take is refused by name
before anything runs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.backends.ace_step.tiny import create_tiny_ace_step
from tests.conftest import REPO, run_cli


@pytest.mark.slow
def test_a_cover_of_the_draft_with_its_strength_headless_and_through_serve(tmp_path: Path) -> None:
    models = tmp_path / "models"
    create_tiny_ace_step(models, variants=("turbo",))
    env = {**os.environ, "PYTHONPATH": str(REPO), "SONGBRIDGE_MODELS": str(models)}
    project = tmp_path / "draft.songbridge"
    assert run_cli("generate", str(REPO / "examples" / "neon-rain.txt"), "--backend", "guide", "--duration", "12",
                   "-o", str(project)).returncode == 0
    r = run_cli("edit", str(project), "--take", "take-001", "--seconds", "2-4", "--backend", "ace-step",
                "--param", "cover_strength=0.3", env=env)
    assert r.returncode == 0, r.stderr
    rec = json.loads((project / "takes" / "take-002" / "record.json").read_text())
    assert rec["params"]["task"] == "cover" and rec["params"]["cover_strength"] == 0.3
    assert rec["parent"] == "take-001" and rec["edited_ranges"] == [[0.0, rec["duration_s"]]]  # the whole draft
    r = run_cli("edit", str(project), "--take", "take-002", "--extend-bars", "1", env=env)  # continue the cover
    assert r.returncode == 0, r.stderr
    ext = json.loads((project / "takes" / "take-003" / "record.json").read_text())
    assert ext["params"]["task"] == "extend" and ext["parent"] == "take-002"
    assert ext["duration_s"] > rec["duration_s"] + 1.0  # one bar more (at most 120 bpm: 2 s)
    before = (project / "song.json").read_text()
    r = run_cli("edit", str(project), "--take", "take-001", "--seconds", "2-4", "--backend", "ace-step",
                "--param", "cover_strenght=0.3", env=env)
    assert r.returncode != 0 and "cover_strenght" in r.stderr and (project / "song.json").read_text() == before

    serve = subprocess.Popen([sys.executable, "-m", "songbridge", "serve", str(project), "--osc", "127.0.0.1:0",
                              "--midi", "off"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        while not re.search(r"OSC on [\d.]+:\d+", serve.stderr.readline() or "OSC on 0.0.0.0:0"):
            assert serve.poll() is None, "serve exited before listening"
        r = run_cli("edit", str(project), "--take", "take-001", "--seconds", "2-4", "--backend", "ace-step",
                    "--param", "cover_strength=0.8", env=env)
        assert r.returncode == 0 and "sending the edit" in r.stderr, r.stderr
        r = run_cli("edit", str(project), "--take", "take-001", "--seconds", "2-4", "--backend", "ace-step",
                    "--param", "steps=0", env=env)
        assert r.returncode != 0 and "steps" in r.stderr, r.stderr  # refused there, by name
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    rec = json.loads((project / "takes" / "take-004" / "record.json").read_text())
    assert rec["params"]["task"] == "cover" and rec["params"]["cover_strength"] == 0.8
    assert not (project / "takes" / "take-005").exists()
