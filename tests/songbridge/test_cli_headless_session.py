"""With nothing holding a project, the commands that change it (generate, loop, split, render) open a headless session
(the project's lock, the session's tidy, one session call followed to its end): a refused request writes nothing and
leaves no new project behind; ``--models`` reaches the session's jobs; ``kill -9`` of the command in the middle of a
job leaves a project that opens (the take it finished recovered, the unfinished one removed), and Ctrl-C on a new
project's first take leaves no project. (Sent to the app that holds the project: tests/gui/test_cli_through_the_app.py.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.song.project import Project
from tests.conftest import REPO, run_cli
from tests.engine.session.test_session import make_project


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "songbridge", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_a_refused_loop_into_a_new_folder_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "new"
    for extra, says in ((["--bars", "1", "--models", str(tmp_path / "none")], "no Stable Audio Open model in"),
                        (["--bars", "1", "--takes", "9"], "--takes must be 1..4"),
                        (["--seconds", "2", "--model", "small", "--models", str(tmp_path / "none")],
                         "model small: not installed in")):
        r = run_cli("loop", "warm pad", *extra, "-o", str(out))
        assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, (extra, r.stderr)
        assert not out.exists() and not (tmp_path / "new.songbridge").exists()


def test_a_generate_whose_engine_cannot_be_reached_leaves_no_new_project(tmp_path: Path) -> None:
    lyrics = tmp_path / "l.txt"
    lyrics.write_text("hello there\n")
    r = run_cli("generate", str(lyrics), "-o", str(tmp_path / "p"), "--engine", "127.0.0.1:1", "--duration", "6")
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "p.songbridge").exists()


def test_split_and_render_of_a_take_run_through_the_session_and_models_reaches_it(tmp_path: Path) -> None:
    from engine.stems.tiny import create_tiny_separator

    project = make_project(tmp_path)
    before = (project.folder / "song.json").read_bytes()
    r = run_cli("split", str(project.folder), "--models", str(tmp_path / "none"))
    assert r.returncode == 2 and "no stem-separation model in" in r.stderr and str(tmp_path / "none") in r.stderr
    assert (project.folder / "song.json").read_bytes() == before  # refused before an engine started
    models = tmp_path / "models"
    create_tiny_separator(models)
    r = run_cli("split", str(project.folder), "--take", "take-001", "--two", "--models", str(models))
    assert r.returncode == 0, r.stderr
    take = Project.open(project.folder).song.take("take-001")
    assert take.stems == ("vocal", "instrumental") and "take-001: stems vocal, instrumental by" in r.stdout
    r = run_cli("render", str(project.folder), "--take", "take-001", "--loudness", "off", "--engine", "thread")
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in (project.folder / "renders" / "take-001").glob("*.wav"))
    assert len(files) == 3 and all(f in r.stdout for f in files)  # mix and the two split stems, printed


@pytest.mark.slow
def test_kill_9_in_the_middle_of_a_job_leaves_a_project_that_opens(tmp_path: Path) -> None:
    from engine.session import Session

    lyrics = tmp_path / "l.txt"
    lyrics.write_text("one line\nanother line\n")
    assert run_cli("generate", str(lyrics), "--duration", "6", "-o", str(tmp_path / "s")).returncode == 0
    folder = tmp_path / "s.songbridge"
    proc = start_cli("generate", str(lyrics), "--duration", "240", "--takes", "3", "-o", str(folder))
    takes = folder / "takes"
    try:  # the first take finished, the second being made
        wait_for(lambda: any((p / "mix.wav").is_file() for p in takes.glob(".pending-*-1")))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    json.loads((folder / "song.json").read_text())  # never half-written
    session = Session.open(folder, None, "test")
    try:
        song = session.song
        assert [t.id for t in song.takes] == ["take-001", "take-002"]  # the finished take recovered
        assert any("recovered take-002" in n for n in session.notes) and any("took over" in n for n in session.notes)
        assert all((folder / "takes" / t.id / "mix.wav").is_file() for t in song.takes)
        assert not list(takes.glob(".pending-*"))  # the unfinished one removed
    finally:
        session.close()
    r = run_cli("render", str(folder), "--take", "take-002", "--engine", "thread")
    assert r.returncode == 0, r.stderr


@pytest.mark.slow
def test_ctrl_c_before_a_new_projects_first_take_leaves_no_project(tmp_path: Path) -> None:
    lyrics = tmp_path / "l.txt"
    lyrics.write_text("one line\nanother line\n")
    folder = tmp_path / "n.songbridge"
    proc = start_cli("generate", str(lyrics), "--duration", "600", "-o", str(folder))
    said = ""
    try:  # the session is made and its job about to be queued (a 600 s guide take takes seconds)
        while "take(s) with guide" not in said and proc.poll() is None:
            said = proc.stderr.readline() if proc.stderr else ""
        assert (folder / "song.json").is_file()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Traceback" not in err, err
    assert not folder.exists(), (err, sorted(str(p) for p in folder.rglob("*")))


@pytest.mark.slow
def test_daw_land_with_nothing_holding_the_project_lands_through_its_link_itself(tmp_path: Path) -> None:
    from engine.audio.bwf import read_bext

    project = make_project(tmp_path)
    imports = tmp_path / "imports"
    assert run_cli("daw", "link", str(project.folder), "generic", str(imports)).returncode == 0
    chorus = project.song.sections[-1]
    r = run_cli("daw", "land", str(project.folder), "--section", chorus.name)
    assert r.returncode == 0 and "landed through generic" in r.stdout, r.stderr
    landed = sorted(imports.glob("*.wav"))
    assert landed and all("_bar" in p.name for p in landed), landed
    assert {read_bext(p).time_reference for p in landed} == {round(chorus.start_s * 44100)}  # each at the section
    assert not (project.folder / ".songbridge.lock").exists()  # the session it opened is closed
    r = run_cli("daw", "land", str(project.folder), "--section", "Nowhere")
    assert r.returncode != 0 and "Nowhere" in r.stderr, r.stderr  # refused, naming it


@pytest.mark.slow
def test_a_variation_loop_and_a_bed_are_one_session_call_each_and_keep_the_songs_style(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    from engine.backends.stable_audio.tiny import create_tiny_stable_audio

    models = tmp_path / "models"
    create_tiny_stable_audio(models)
    project = make_project(tmp_path)
    style = project.song.style
    clip = tmp_path / "clip.wav"
    sf.write(clip, np.zeros((44100, 2), np.float32), 44100)
    r = run_cli("loop", "warm pad", "--bars", "1", "--at-bar", "2", "--variation", str(clip), "--strength", "0.5",
                "--steps", "2", "--seed", "5", "--models", str(models), "-o", str(project.folder))
    assert r.returncode == 0, r.stderr
    assert (project.folder / "reference" / "clip.wav").read_bytes() == clip.read_bytes()  # so it can be made again
    r = run_cli("loop", "rain bed", "--seconds", "2", "--at-bar", "3", "--models", str(models),
                "-o", str(project.folder))
    assert r.returncode == 0, r.stderr
    song = Project.open(project.folder).song
    variation, bed = song.loops
    assert variation.take.params["init_audio"] == "reference/clip.wav" and variation.take.params["steps"] == 2
    assert variation.take.params["init_strength"] == 0.5 and variation.bar == 2 and variation.take.seed == 5
    assert bed.bars is None and bed.bar == 3 and abs(bed.duration_s - 2.0) < 0.05
    assert song.style == style and [t.id for t in song.takes] == ["take-001"]


def test_a_variation_clip_is_never_copied_through_a_link_planted_in_the_project(tmp_path: Path) -> None:
    from engine.backends.stable_audio.tiny import create_tiny_stable_audio
    from engine.errors import SongBridgeError
    from engine.session.loops import MakeLoop, place_reference, plan

    models = tmp_path / "models"
    create_tiny_stable_audio(models)
    project = make_project(tmp_path)
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF clip")
    with pytest.raises(SongBridgeError, match="variation .*: not a file"):
        plan(project.song, MakeLoop("pad", 1, 120, 1, variation=str(tmp_path)), models)  # a folder is no clip
    p = plan(project.song, MakeLoop("pad", 1, 120, 1, variation=str(clip), strength=0.4), models)
    assert p.reference == (clip, "reference/clip.wav") and p.params["init_strength"] == 0.4
    outside = tmp_path / "outside"
    outside.mkdir()
    (project.folder / "reference").symlink_to(outside)  # a hostile project: reference/ leads out of it
    with pytest.raises(SongBridgeError, match="symbolic link"):
        place_reference(project.folder, p)
    assert not list(outside.iterdir())  # nothing written outside the project
    (project.folder / "reference").unlink()
    place_reference(project.folder, p)
    assert (project.folder / "reference" / "clip.wav").read_bytes() == b"RIFF clip"
