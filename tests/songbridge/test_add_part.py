"""``songbridge add-part``: one more instrument over a take (ACE-Step base, lego) or one taken out alone (extract),
the session's ``add_part``; headless, and sent to the program holding the project over its OSC address
(``/songbridge/take/add_part``). A turbo-only install and a bad track are refused with nothing changed."""

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

LRC = "[00:00.00]Neon rain on the window\n[00:04.00]I keep the night alive\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ace") / "models"
    create_tiny_ace_step(folder)
    return folder


def record(project: Path, take: str) -> dict:
    return json.loads((project / "takes" / take / "record.json").read_text())


@pytest.mark.slow
def test_a_part_is_added_headless_and_through_the_program_holding_the_project(tmp_path: Path, models: Path) -> None:
    lrc = tmp_path / "song.lrc"
    lrc.write_text(LRC)
    project = tmp_path / "neon.songbridge"
    r = run_cli("generate", str(lrc), "--backend", "ace-step", "--models", str(models), "--duration", "8",
                "--style", "synth pop", "-o", str(project))
    assert r.returncode == 0, r.stderr
    r = run_cli("add-part", str(project), "--track", "bass", "--models", str(models))
    assert r.returncode == 0, r.stderr
    lego = record(project, "take-002")
    assert lego["stems"] == ["song", "bass"] and lego["parent"] == "take-001"
    assert lego["params"]["task"] == "lego" and lego["params"]["track"] == "bass"
    assert all(len(w["sha256"]) == 64 for w in lego["weights"]) and "MIT" in lego["licence"]

    env = {**os.environ, "PYTHONPATH": str(REPO), "SONGBRIDGE_MODELS": str(models)}
    serve = subprocess.Popen([sys.executable, "-m", "songbridge", "serve", str(project), "--osc", "127.0.0.1:0",
                              "--midi", "off"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        while not re.search(r"OSC on [\d.]+:\d+", serve.stderr.readline() or "OSC on 0.0.0.0:0"):
            assert serve.poll() is None, "serve exited before listening"
        r = run_cli("add-part", str(project), "--track", "vocals", "--take", "take-001", "--alone", env=env)
        assert r.returncode == 0, r.stderr
        assert "sending the add-part request" in r.stderr and "take-003" in r.stdout
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    extract = record(project, "take-003")
    assert extract["stems"] == ["vocals"] and extract["params"]["task"] == "extract"
    song = json.loads((project / "song.json").read_text())
    assert [t["id"] for t in song["takes"]] == ["take-001", "take-002", "take-003"]


@pytest.mark.slow
def test_a_turbo_only_install_or_a_bad_track_is_refused_and_nothing_changes(tmp_path: Path, models: Path) -> None:
    import shutil

    turbo = tmp_path / "turbo-only"
    turbo.mkdir()
    for name in ("acestep-v15-turbo", "vae", "Qwen3-Embedding-0.6B"):
        shutil.copytree(models / name, turbo / name)
    lrc = tmp_path / "song.lrc"
    lrc.write_text(LRC)
    project = tmp_path / "p.songbridge"
    assert run_cli("generate", str(lrc), "--backend", "ace-step", "--models", str(turbo), "--duration", "6",
                   "-o", str(project)).returncode == 0
    before = (project / "song.json").read_text()
    r = run_cli("add-part", str(project), "--track", "bass", "--models", str(turbo))
    assert r.returncode != 0 and "needs the base model" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("add-part", str(project), "--track", "tuba", "--models", str(models))
    assert r.returncode != 0 and "got 'tuba'" in r.stderr and "bass" in r.stderr
    assert (project / "song.json").read_text() == before
    assert sorted(p.name for p in (project / "takes").iterdir()) == ["take-001"]
