"""Landing with the generic adapter puts the guide's MIDI of the landed span next to the stems."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import mido

from daw_bridge.landing import deliver
from engine.backends.guide.backend import GuideBackend
from engine.generation import SongChoices, plan_takes, prepare_song, run_take
from engine.lyrics import parse
from engine.session import Landing, Purpose
from engine.song import Project, Song
from engine.song.document import save_song


def test_generic_landing_writes_the_section_midi_beside_its_stems(tmp_path: Path) -> None:
    project = Project(tmp_path / "p.songbridge", Song())
    project.song = prepare_song(project.song, parse("[verse]\nwalk the line\nhold it tight\n[chorus]\nsing it out\n"),
                                SongChoices(title="Bridge Song", style="pop", bpm=120), first_time=True)
    save_song(project.song, project.folder)
    take = run_take(project, GuideBackend(), plan_takes(project, 1, 3)[0], lambda d, t: None, lambda: False)
    chorus = next(s for s in project.song.sections if s.kind == "chorus")
    stems = {label: str(project.take_dir(take.id) / "stems" / f"{label}.wav") for label in ("vocal", "drums")}
    out = tmp_path / "landed"
    session = SimpleNamespace(song=project.song, project=project)
    bar = project.song.tempo.seconds_to_bars(chorus.start_s)
    purpose = Purpose("land", take=take.id, landing=Landing(str(out), chorus.name, bar, 120.0, chorus.start_s,
                                                            chorus.end_s))
    adapter, detail = deliver(session, purpose, {"files": stems})
    assert adapter == "generic" and "guide's MIDI" in detail
    mids = sorted(out.glob("*.mid"))
    assert [p.name for p in mids] == [f"bridge-song_chorus_guide_bar{bar:g}_120bpm.mid"]
    mid = mido.MidiFile(str(mids[0]))
    assert [m.text for m in mid.tracks[0] if m.type == "marker"] == ["Chorus"]
    assert sum(1 for m in mid.tracks[1] if m.type == "lyrics") == 3  # "sing it out"
    # A take without MIDI (a neural one) lands its stems, and the section's old MIDI, which would no longer
    # match them, goes.
    (project.take_dir(take.id) / "guide.mid").unlink()
    adapter, detail = deliver(session, purpose, {"files": stems})
    assert adapter == "generic" and "old MIDI was removed (1)" in detail
    assert not list(out.glob("*.mid")) and len(list(out.glob("*.wav"))) == 2
