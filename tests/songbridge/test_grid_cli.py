"""``songbridge grid`` on a project's take and on a file: the printed tempo and first downbeat, the beat maps,
--lock writing grid-locked audio of exact length that render then uses, and bad input refused in one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import run_cli
from tests.engine.session.test_session import make_project


@pytest.mark.slow
def test_grid_and_lock_a_take(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    take = project.song.takes[-1]
    r = run_cli("grid", str(project.folder), "--models", str(tmp_path / "no-models"))
    assert r.returncode == 0, r.stderr
    import re

    measured = float(re.search(r"tempo ([0-9.]+) bpm", r.stdout).group(1))
    assert abs(measured - 120.0) < 0.05 and "first downbeat at 0.0" in r.stdout and "tracker dsp" in r.stdout
    folder = project.folder / "takes" / take.id
    rows = list(csv.DictReader(open(folder / "grid" / "beats.csv")))
    assert rows[0]["bar"] == "1" and rows[0]["beat"] == "1" and rows[4]["bar"] == "2"
    assert abs(float(rows[4]["time_s"]) - 2.0) < 0.02  # bar 2 at 120 bpm
    markers = list(csv.reader(open(folder / "grid" / "markers.csv")))
    assert markers[0] == ["#", "Name", "Start", "End", "Length"] and markers[2][1] == "Bar 2"
    r = run_cli("grid", str(project.folder), "--lock", "--bpm", "126", "--models", str(tmp_path / "no-models"))
    assert r.returncode == 0, r.stderr
    song = json.loads((project.folder / "song.json").read_text())
    assert song["locked"] == [take.id] and song["takes"][-1]["analysis"]["lock"]["bpm"] == 126
    mix, sr = sf.read(folder / "mix.wav")
    frames = {sf.info(p).frames for p in (folder / "locked").rglob("*.wav")}
    assert frames == {round(len(mix) * 120 / 126)}  # every file exactly the take's length at 126 bpm
    r = run_cli("render", str(project.folder))
    assert r.returncode == 0, r.stderr
    rendered = next((project.folder / "renders" / take.id).glob("*_drums.wav"))
    assert sf.info(rendered).frames == round(len(mix) * 120 / 126)  # render took the locked stems


def test_grid_of_a_file_and_its_lock(tmp_path: Path) -> None:
    sr, bpm = 44100, 100.0
    clicks = np.zeros(int(sr * 12), np.float32)
    for k in range(int(12 * bpm / 60)):
        t = int(k * 60 / (bpm * 1.02) * sr)  # played 2 % fast
        clicks[t:t + 300] += np.hanning(300).astype(np.float32) * (0.9 if k % 4 == 0 else 0.5)
    path = tmp_path / "clicks.wav"
    sf.write(path, clicks, sr)
    r = run_cli("grid", str(path), "--lock", "--bpm", "100", "-o", str(tmp_path / "locked.wav"))
    assert r.returncode == 0, r.stderr
    assert "tempo 102." in r.stdout
    locked, _ = sf.read(tmp_path / "locked.wav")
    assert len(locked) == round(5 * 2.4 * sr)  # 12.24 s of it at 100 bpm: exactly its 5 whole bars
    r = run_cli("grid", str(path), "--lock", "--bpm", "100", "--bars", "4", "-o", str(tmp_path / "four.wav"))
    assert r.returncode == 0, r.stderr
    assert sf.info(tmp_path / "four.wav").frames == round(4 * 2.4 * sr)
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    for args, said in ((["grid", str(bad)], "notes.txt: not a readable audio file"),
                       (["grid", str(tmp_path / "nowhere")], "neither an audio file nor a SongBridge project"),
                       (["grid", str(path), "--bpm", "1000"], "--bpm must be 20..400"),
                       (["grid", str(path), "--lock"], "needs -o OUT.wav"),
                       (["grid", str(path), "--bars", "4"], "--bars is for --lock on a file")):
        r = run_cli(*args)
        assert r.returncode == 2 and said in r.stderr and "Traceback" not in r.stderr, r.stderr
