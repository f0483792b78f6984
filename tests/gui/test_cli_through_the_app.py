"""With the app holding a project, ``songbridge generate -o`` asks the app for the takes over its bridge and follows
the job (the take appears in the app at once), instead of refusing and printing a line to type; a command that would
also change the song is refused before anything is sent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gui.test_regenerate_everywhere import app, settle  # noqa: F401 - the app holding a project, its bridge on

pytestmark = pytest.mark.integration


def songbridge(qtbot, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.Popen([sys.executable, "-m", "songbridge", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=90_000)  # the app's event loop runs meanwhile
    out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_generate_into_a_project_the_app_holds_runs_in_the_app(qtbot, app, tmp_path: Path) -> None:  # noqa: F811
    win, bridge, session, jobs = app
    from engine.lyrics.sheet import song_lrc

    lyrics = tmp_path / "same.lrc"
    lyrics.write_text(song_lrc(session.song))  # the song's own words and timing, as File > Export LRC writes them
    before = [t.id for t in session.song.takes]
    done = songbridge(qtbot, "generate", str(lyrics), "-o", str(session.folder), "--takes", "2", "--seed", "7")
    assert done.returncode == 0, done.stderr
    assert "has the project open: sending the generate request" in done.stderr and "queued as" in done.stderr
    (job,) = jobs
    assert [r.seed for r in job.requests][:1] == [7] and len(job.requests) == 2 and job.requests[0].edit is None
    new = [t.id for t in session.song.takes if t.id not in before]
    assert len(new) == 2 and all(t in done.stdout for t in new)  # printed as the app made them
    qtbot.waitUntil(lambda: win.takes.count() >= len(before) + 2, timeout=10_000)
    settle(qtbot, win)


def test_generate_that_would_change_the_held_song_is_refused_and_sends_nothing(qtbot, app, tmp_path: Path) -> None:  # noqa: F811
    win, bridge, session, jobs = app
    lyrics = tmp_path / "other.txt"
    lyrics.write_text("[verse]\nother words now\n[chorus]\nfour five six\n")
    song = session.song
    done = songbridge(qtbot, "generate", str(lyrics), "-o", str(session.folder), "--style", "dark techno")
    assert done.returncode == 2, done.stderr
    assert "would also change the song's lyrics, style" in done.stderr and not jobs
    assert session.song == song


def test_use_a_take_for_a_section_of_a_held_project_is_chosen_in_the_app(qtbot, app) -> None:  # noqa: F811
    win, bridge, session, jobs = app
    done = songbridge(qtbot, "use", str(session.folder), "take-001", "--section", "chorus")
    assert done.returncode == 0, done.stderr
    chorus = next(s for s in session.song.sections if s.kind == "chorus")
    assert session.song.accepted.get(chorus.id) == "take-001" and not jobs
    assert win.doc.undo.undoText() == f"Use take-001 for {chorus.name}"  # one step of the app's history
    refused = songbridge(qtbot, "use", str(session.folder), "take-009", "--section", "chorus")
    assert refused.returncode == 2 and "take-009" in refused.stderr


def test_grid_and_lock_of_a_held_project_run_in_the_app(qtbot, app) -> None:  # noqa: F811
    win, bridge, session, jobs = app
    done = songbridge(qtbot, "grid", str(session.folder), "--take", "take-001", "--lock", "--bpm", "120")
    assert done.returncode == 0, done.stderr
    assert "sending the grid request" in done.stderr and "queued as" in done.stderr
    (job,) = jobs
    assert type(job).__name__ == "GridJob" and job.take.id == "take-001" and job.lock
    qtbot.waitUntil(lambda: "take-001" in session.song.locked, timeout=30_000)  # the app switched the lock on
    settle(qtbot, win)


def test_split_of_a_held_project_without_a_model_is_refused_by_the_app_and_said(qtbot, app, tmp_path,  # noqa: F811
                                                                                 monkeypatch) -> None:
    win, bridge, session, jobs = app
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(tmp_path / "no-models"))
    done = songbridge(qtbot, "split", str(session.folder), "--take", "take-001")
    assert done.returncode != 0 and "sending the split request" in done.stderr
    assert "Traceback" not in done.stderr and "no stem-separation model in" in done.stderr, done.stderr
    assert not jobs  # refused before anything was queued


def test_render_of_a_held_project_runs_in_the_app(qtbot, app) -> None:  # noqa: F811
    win, bridge, session, jobs = app
    done = songbridge(qtbot, "render", str(session.folder), "--take", "take-001", "--bits", "16", "--loudness",
                      "off", "--fx", "vocal=none")
    assert done.returncode == 0, done.stderr
    assert "sending the render request" in done.stderr and "queued as" in done.stderr
    (job,) = jobs
    assert type(job).__name__ == "RenderJob" and job.take_id == "take-001"
    assert job.settings.bits == 16 and job.settings.loudness_lufs is None and job.settings.fx == {"vocal": None}
    assert f"renders: {session.folder / 'renders'}" in done.stdout
    assert sorted((session.folder / "renders" / "take-001").glob("*_mix.wav"))  # rendered by the app
    settle(qtbot, win)


def test_loop_into_a_held_project_without_stable_audio_is_refused_by_the_app_and_said(qtbot, app, tmp_path,  # noqa: F811
                                                                                     monkeypatch) -> None:
    win, bridge, session, jobs = app
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(tmp_path / "no-models"))  # the app's models folder: empty
    song = session.song
    done = songbridge(qtbot, "loop", "warm pad", "--bars", "2", "--at-bar", "2", "-o", str(session.folder))
    assert done.returncode != 0 and "sending the loop request" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "no Stable Audio Open model in" in done.stderr, done.stderr
    assert not jobs and session.song == song
    refused = songbridge(qtbot, "loop", "warm pad", "--bars", "2", "--seed", "3", "--steps", "4",
                         "-o", str(session.folder))  # what cannot travel: refused here, nothing sent
    assert refused.returncode == 2 and "--steps, --seed cannot be sent to it" in refused.stderr, refused.stderr
    assert "sending" not in refused.stderr and not jobs and session.song == song


def test_daw_land_of_a_held_project_lands_through_the_apps_link(qtbot, app) -> None:  # noqa: F811
    win, bridge, session, jobs = app
    out = session.folder / "renders" / "daw"  # the generic link's folder
    done = songbridge(qtbot, "daw", "land", str(session.folder), "--take", "take-001", "--section", "Chorus")
    assert done.returncode == 0, done.stderr
    assert "to land the stems" in done.stderr and "take-001: landed through generic" in done.stdout, done.stdout
    (job,) = jobs
    assert type(job).__name__ == "RenderJob" and job.take_id == "take-001"
    assert f"5 files in {out}" in done.stdout and len(sorted(out.glob("*chorus*.wav"))) == 5, done.stdout
    refused = songbridge(qtbot, "daw", "land", str(session.folder), "--take", "take-009")
    assert refused.returncode == 2 and "take-009" in refused.stderr and len(jobs) == 1
    settle(qtbot, win)
