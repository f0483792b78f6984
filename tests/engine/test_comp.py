"""Comping (issue 26): a song whose sections chose their takes renders and lands each section's accepted take, joined
with short crossfades; the choice is one undoable step; the comp's pieces, crossfades and refusals."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.backends.guide.backend import GuideBackend
from engine.comp import XFADE_S, Piece, comp_pieces, is_comped, lineage_text, read_comp, song_take
from engine.errors import SongBridgeError
from engine.generation import SongChoices, plan_takes, prepare_song, run_take
from engine.lyrics import parse
from engine.render import RenderSettings
from engine.session import JobEnded, Session
from engine.song import Project, Song
from engine.song.document import save_song

SR = 44100
LYRICS = "[verse]\nwalk the line\nhold it tight\n[chorus]\nsing it out\nloud and clear\n" \
         "[verse]\nback again\nround the bend\n[chorus]\nsing it out\nloud and clear\n"


def five_takes(tmp: Path) -> Project:
    """Verse 1 0-8 s, Chorus 1 8-16 s, Verse 2 16-24 s, Chorus 2 24-32 s; take-001..005 from the guide, seeds 1..5."""
    project = Project(tmp / "comp.songbridge", Song())
    project.song = prepare_song(project.song, parse(LYRICS), SongChoices(title="Comp Song", style="pop", bpm=120),
                                first_time=True)
    save_song(project.song, project.folder)
    for seed in range(1, 6):
        run_take(project, GuideBackend(), plan_takes(project, 1, seed)[0], lambda d, t: None, lambda: False)
    return project


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def mix_of(project: Project, take_id: str) -> np.ndarray:
    return sf.read(str(project.take_dir(take_id) / "mix.wav"), dtype="float32", always_2d=True)[0]


def inside(audio: np.ndarray, a: float, b: float) -> np.ndarray:
    """[a, b) seconds, less 50 ms at each end (the crossfades are 20 ms)."""
    return audio[int((a + 0.05) * SR):int((b - 0.05) * SR)]


def assert_comped(rendered: np.ndarray, project: Project, ch1: tuple[float, float], ch2: tuple[float, float]) -> None:
    t3, t5 = mix_of(project, "take-003"), mix_of(project, "take-005")
    assert corr(inside(t3, *ch1), inside(t5, *ch1)) < 0.9  # the two takes differ there: the test can tell them apart
    assert corr(inside(rendered, *ch1), inside(t3, *ch1)) > 0.99
    assert corr(inside(rendered, *ch2), inside(t5, *ch2)) > 0.99
    assert corr(inside(rendered, *ch1), inside(t5, *ch1)) < 0.9  # and not the other way round
    assert corr(inside(rendered, *ch2), inside(t3, *ch2)) < 0.9
    t1 = mix_of(project, "take-001")  # the verses play the song's take
    assert corr(inside(rendered, 0.0, 8.0), inside(t1, 0.0, 8.0)) > 0.99
    assert corr(inside(rendered, 16.0, 24.0), inside(t1, 16.0, 24.0)) > 0.99


@pytest.fixture(scope="module")
def comped(tmp_path_factory: pytest.TempPathFactory):
    project = five_takes(tmp_path_factory.mktemp("comp"))
    from engine.service import EngineService

    engine = EngineService("thread").start()
    session = Session.open(project.folder, engine, "test")
    ch1, ch2 = (next(s for s in session.song.sections if s.name == n) for n in ("Chorus 1", "Chorus 2"))
    session.accept("take-001")  # the song's take: the verses play it
    session.accept("take-003", ch1.id)
    session.accept("take-004", ch2.id)
    session.accept("take-005", ch2.id)  # chosen again: the last choice counts
    session.flush()
    yield session, (ch1.start_s, ch1.end_s), (ch2.start_s, ch2.end_s)
    session.close()
    engine.close()


def test_a_comped_song_lands_each_sections_accepted_take(comped, tmp_path: Path) -> None:
    from daw_bridge.landing import deliver, render_job

    session, ch1, ch2 = comped
    out = tmp_path / "landed"
    job, purpose = render_job(session, None, None, None, out)
    assert job.settings.comp and job.out_name == "comp"
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
    assert adapter == "generic" and "no MIDI" not in detail
    landed = {p.name: p for p in out.glob("*.wav")}
    assert sorted(landed) == sorted(f"comp-song_song_{s}_bar1_120bpm.wav" for s in ("mix", "drums", "bass", "keys",
                                                                                      "vocal"))
    mix = sf.read(str(landed["comp-song_song_mix_bar1_120bpm.wav"]), dtype="float32", always_2d=True)[0]
    assert_comped(mix, session.project, ch1, ch2)
    # each stem too: the vocal of Chorus 1 is take 3's vocal
    vocal = sf.read(str(landed["comp-song_song_vocal_bar1_120bpm.wav"]), dtype="float32", always_2d=True)[0]
    t3 = sf.read(str(session.project.take_dir("take-003") / "stems" / "vocal.wav"), dtype="float32",
                 always_2d=True)[0]
    assert corr(inside(vocal, *ch1), inside(t3, *ch1)) > 0.99
    # landing one section lands that section's accepted take
    job, purpose = render_job(session, None, "chorus 1", None, out)
    assert job.take_id == "take-003" and job.settings.range_s == ch1 and not job.settings.comp


@pytest.mark.slow
def test_songbridge_render_renders_the_comp(comped) -> None:
    session, ch1, ch2 = comped
    env = {**os.environ, "SONGBRIDGE_AUTO_SPLIT": "0"}
    session.lock.release()  # the command line takes the project's lock, as it would with the app closed
    try:
        done = subprocess.run([sys.executable, "-m", "songbridge", "render", str(session.folder), "--engine",
                               "thread", "--loudness", "off"], capture_output=True, text=True, env=env, timeout=120)
    finally:
        from engine.song.lock import ProjectLock

        session.lock = ProjectLock.acquire(session.folder, "test")
    assert done.returncode == 0, done.stderr
    assert ("comp: take-001 0.00-8.00 s (Verse 1), take-003 8.00-16.00 s (Chorus 1), take-001 16.00-24.00 s "
            "(Verse 2), take-005 24.00-32.00 s (Chorus 2)") in done.stderr
    mix = next(p for p in (session.folder / "renders" / "comp").glob("*_comp_mix.wav"))
    assert_comped(sf.read(str(mix), dtype="float32", always_2d=True)[0], session.project, ch1, ch2)
    # --take renders that take alone, as before
    session.lock.release()
    try:
        done = subprocess.run([sys.executable, "-m", "songbridge", "render", str(session.folder), "--engine",
                               "thread", "--take", "take-003", "--loudness", "off"], capture_output=True, text=True,
                              env=env, timeout=120)
    finally:
        session.lock = ProjectLock.acquire(session.folder, "test")
    assert done.returncode == 0, done.stderr
    assert "comp:" not in done.stderr and (session.folder / "renders" / "take-003").is_dir()


def test_choosing_a_sections_take_is_one_undo_step(tmp_path: Path) -> None:
    project = Project(tmp_path / "u.songbridge", Song())
    project.song = prepare_song(project.song, parse(LYRICS), SongChoices(title="U", style="pop", bpm=120),
                                first_time=True)
    save_song(project.song, project.folder)
    for seed in (1, 2):
        run_take(project, GuideBackend(), plan_takes(project, 1, seed)[0], lambda d, t: None, lambda: False)
    session = Session.open(project.folder, None, "test")
    try:
        ch1 = next(s for s in session.song.sections if s.name == "Chorus 1")
        assert not is_comped(session.song)
        session.accept("take-001", ch1.id)
        assert is_comped(session.song) and session.song.accepted[ch1.id] == "take-001"
        assert session.undo() == "Use take-001 for Chorus 1"
        assert ch1.id not in session.song.accepted and not is_comped(session.song)
        assert session.redo() == "Use take-001 for Chorus 1"
        assert session.song.accepted[ch1.id] == "take-001"
        before = session.song
        for bad, what in ((("take-404", ch1.id), "no take 'take-404'"), (("take-001", "bridge-9"), "no section")):
            with pytest.raises(SongBridgeError, match=what):
                session.accept(*bad)
            assert session.song == before
    finally:
        session.close()


def test_pieces_crossfades_and_mismatched_stems(tmp_path: Path) -> None:
    project = five_takes(tmp_path)
    song = project.song
    ch1 = next(s for s in song.sections if s.name == "Chorus 1")
    song = song.with_accepted(ch1.id, "take-002").with_accepted("", "take-004")
    assert song_take(song).id == "take-004"
    assert comp_pieces(song) == (Piece("take-004", 0.0, 8.0), Piece("take-002", 8.0, 16.0),
                                 Piece("take-004", 16.0, 32.0))
    project.song = song
    drums = read_comp(project, comp_pieces(song), "drums")
    t2 = sf.read(str(project.take_dir("take-002") / "stems" / "drums.wav"), dtype="float32", always_2d=True)[0]
    t4 = sf.read(str(project.take_dir("take-004") / "stems" / "drums.wav"), dtype="float32", always_2d=True)[0]
    h = int(XFADE_S * SR / 2)
    a = 8 * SR
    assert np.array_equal(drums[a + h:16 * SR - h], t2[a + h:16 * SR - h])  # sample-identical inside
    assert np.array_equal(drums[:a - h], t4[:a - h])
    mid = drums[a - h:a + h]  # the crossfade: between the two, both weights summing to one
    w = (np.arange(2 * h) + 0.5) / (2 * h)
    assert np.allclose(mid, t4[a - h:a + h] * (1 - w)[:, None] + t2[a - h:a + h] * w[:, None], atol=1e-6)
    with pytest.raises(SongBridgeError, match="comp piece 1"):
        RenderSettings(comp=(("take-001", 0.0, 8.0), ("take-002", 4.0, 2.0)))
    assert lineage_text(song, song.take("take-002")) == ""
    # a take with other stems (a neural take not split yet) comps beside the others: the comp has every stem of its
    # takes, each piece silent in the stems its take does not have
    from dataclasses import replace

    from engine.comp import check_pieces
    from engine.render import comp_settings

    neural = replace(song.take("take-001"), id="take-006", backend="diffrhythm", stems=("song",))
    song = song.with_take(neural).with_accepted(ch1.id, "take-006")
    comped = comp_settings(song, RenderSettings())
    assert comped is not None and any(p[0] == "take-006" for p in comped[1].comp)
    stems = check_pieces(song, comp_pieces(song))
    assert "song" in stems and "drums" in stems and len(set(stems)) == len(stems)


def test_a_comp_of_takes_with_other_stems_renders_every_stem_each_piece_silent_where_its_take_has_none(
        tmp_path: Path) -> None:
    """A section whose take has one more part (an added bass) beside sections whose takes do not: the comp renders
    that stem too, heard only in its section, and the mix is each piece's whole take."""
    import shutil
    from dataclasses import replace

    from engine.backends.takes import read_record
    from engine.comp import comp_pieces
    from engine.render import comp_settings, render_take

    project = five_takes(tmp_path)
    song = project.song
    ch1 = next(s for s in song.sections if s.name == "Chorus 1")
    src, dst = project.take_dir("take-003"), project.take_dir("take-006")
    shutil.copytree(src, dst)
    extra = sf.read(str(dst / "stems" / "bass.wav"), dtype="float32", always_2d=True)[0]
    sf.write(str(dst / "stems" / "bass-2.wav"), extra, SR)  # the added part
    take = replace(read_record(src), id="take-006", stems=(*read_record(src).stems, "bass-2"))
    song = song.with_take(take).with_accepted("", "take-001").with_accepted(ch1.id, "take-006")
    project.song = song
    save_song(song, project.folder)
    _, settings = comp_settings(song, RenderSettings(loudness_lufs=None))
    result = render_take(project, "take-001", settings, out_name="comp")
    assert "bass-2" in result.files and len(comp_pieces(song)) >= 2
    added = sf.read(str(result.files["bass-2"]), dtype="float32", always_2d=True)[0]
    assert np.abs(inside(added, 0.0, 8.0)).max() == 0.0  # Verse 1 plays take-001: no such part there
    assert np.abs(inside(added, ch1.start_s, ch1.end_s)).max() > 0.01  # heard in its section
