"""A take locked to the DAW's tempo (issue 28: regenerated while following a DAW at another tempo, generated at the
song's tempo and grid-locked to the DAW's) lands where the DAW expects it: the section's bars at the DAW's tempo, at
the DAW's bar (the guide backend, the real beat grid and lock, the real render job, the generic adapter)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from engine.audio.bwf import read_bext
from engine.backends.guide.backend import GuideBackend
from engine.generation import SongChoices, plan_takes, prepare_song, run_take
from engine.grid.takes import grid_take, lock_take
from engine.lyrics import parse
from engine.session import JobEnded, Landing, Session
from engine.song import DawLink, Project, Song
from engine.song.document import save_song

SR = 44100
SONG_BPM, DAW_BPM = 120.0, 100.0
LYRICS = "[verse]\nwalk the line\n[chorus]\nsing it out\n[verse]\nback again\n[chorus]\nloud and clear\n"


def locked_project(tmp: Path) -> Project:
    """A guide take at 120 bpm, locked to a DAW at 100 bpm, with a 2-bar section "Hook" at bars 5-6."""
    project = Project(tmp / "lock.songbridge", Song())
    project.song = prepare_song(project.song, parse(LYRICS), SongChoices(title="Lock Song", style="pop", bpm=SONG_BPM),
                                first_time=True)
    song = project.song
    chorus = next(s for s in song.sections if s.name == "Chorus 1")
    assert song.tempo.seconds_to_bars(chorus.start_s) == 5.0
    hook_end = song.tempo.bars_to_seconds(7)
    hook = dataclasses.replace(chorus, id="hook", name="Hook", end_s=hook_end)
    rest = dataclasses.replace(chorus, start_s=hook_end)
    project.song = song.replace(sections=tuple(x for s in song.sections
                                               for x in ((hook, rest) if s.id == chorus.id else (s,))))
    save_song(project.song, project.folder)
    run_take(project, GuideBackend(), plan_takes(project, 1, 1)[0], lambda d, t: None, lambda: False)
    take = project.song.takes[-1]
    take, _ = grid_take(project.folder, take, project.song.tempo)
    take = lock_take(project.folder, take, project.song.tempo, bpm=DAW_BPM)
    project.song = project.song.with_take(take).replace(locked=(take.id,))
    save_song(project.song, project.folder)
    return project


def land(session: Session, section: str, out: Path) -> tuple[Landing, str, str]:
    from daw_bridge.landing import deliver, render_job

    job, purpose = render_job(session, None, section, None, out)
    ended: list[JobEnded] = []
    unsubscribe = session.subscribe(lambda ev: ended.append(ev) if isinstance(ev, JobEnded) else None)
    job_id = session.submit(job, purpose)
    deadline = time.monotonic() + 120
    while not [e for e in ended if e.job_id == job_id] and time.monotonic() < deadline:
        time.sleep(0.05)
    unsubscribe()
    (done,) = [e for e in ended if e.job_id == job_id]
    assert done.state == "finished", done.error
    adapter, detail = deliver(session, purpose, done.render)
    return purpose.landing, adapter, detail


@pytest.mark.slow
def test_a_take_locked_to_the_daws_tempo_lands_n_bars_at_the_daws_tempo_at_its_bar(tmp_path: Path) -> None:
    project = locked_project(tmp_path)
    from engine.service import EngineService

    engine = EngineService("thread").start()
    session = Session.open(project.folder, engine, "test")
    try:
        out = tmp_path / "landed"
        purpose, adapter, detail = land(session, "Hook", out)
        # a project linked to an adapter nobody registered is refused before anything renders
        from daw_bridge.adapters.registry import UnknownAdapter
        from daw_bridge.landing import render_job

        session.edit(session.song.replace(daw=DawLink(adapter="protools")), "link to protools")
        with pytest.raises(UnknownAdapter, match="'protools'; known adapters: generic, ardour, reaper"):
            render_job(session, None, "Hook", None, tmp_path / "never")
        assert not (tmp_path / "never").exists() and not session.in_flight()
    finally:
        session.close()
        engine.close()
    bar_s = 4 * 60.0 / DAW_BPM  # a 4/4 bar at the DAW's tempo: 2.4 s
    start, length = round(4 * bar_s * SR), round(2 * bar_s * SR)  # bar 5 at 100 bpm: 9.6 s; 2 bars: 4.8 s
    assert (purpose.bar, purpose.bpm) == (5.0, DAW_BPM)
    assert purpose.start_s == pytest.approx(9.6) and purpose.end_s == pytest.approx(14.4)
    assert adapter == "generic" and "guide's MIDI" in detail
    take = project.song.takes[-1]
    wavs = sorted(out.glob("*.wav"))
    assert [p.name for p in wavs] == sorted(f"lock-song_hook_{s}_bar5_100bpm.wav" for s in ("mix", *take.stems))
    for wav in wavs:
        assert sf.info(str(wav)).frames == length == 211680, wav.name  # exactly 2 bars at 100 bpm
        assert read_bext(wav).time_reference == start == 423360, wav.name  # at the DAW's bar 5
    # it is the locked copy's audio at the DAW's bar: the same samples, not the song's seconds 8-12
    locked, _ = sf.read(str(project.take_dir(take.id) / "locked" / "stems" / "drums.wav"), dtype="float32",
                        always_2d=True)
    landed, _ = sf.read(str(out / "lock-song_hook_drums_bar5_100bpm.wav"), dtype="float32", always_2d=True)

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
        return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))

    assert corr(landed, locked[start:start + length]) > 0.99
    # the guide's MIDI beside them plays the same bars at the DAW's tempo
    (mid_path,) = out.glob("*.mid")
    assert mid_path.name == "lock-song_hook_guide_bar5_100bpm.mid"
    tempos = {m.tempo for t in mido.MidiFile(str(mid_path)).tracks for m in t if m.type == "set_tempo"}
    assert tempos == {mido.bpm2tempo(DAW_BPM)}
