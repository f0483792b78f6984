"""A small guide project for the Ardour MIDI tests: a verse and a chorus, one guide take (its stems and guide.mid),
and what Ardour saved of the landed MIDI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mido
import soundfile as sf

from daw_bridge.adapters.ardour import superclock
from daw_bridge.adapters.ardour_midi import ARDOUR_PPQN, split_parts
from daw_bridge.adapters.generic import slug
from engine.backends.guide.backend import GuideBackend
from engine.generation import SongChoices, plan_takes, prepare_song, run_take
from engine.lyrics import parse
from engine.session import Landing, Purpose
from engine.song import Project, Song
from engine.song.document import save_song
from engine.song.take_midi import take_midi

LYRICS = "[verse]\nwalk the line\nhold it tight\n[chorus]\nsing it out\nlet it ring\n"
PARTS = ("vocal", "chords", "bass", "drums")


def guide_project(folder: Path, seed: int = 3, bpm: int = 120) -> tuple[Project, Any]:
    project = Project(folder / "p.songbridge", Song())
    project.song = prepare_song(project.song, parse(LYRICS), SongChoices(title="Bridge Song", style="pop", bpm=bpm),
                                first_time=True)
    save_song(project.song, project.folder)
    take = run_take(project, GuideBackend(), plan_takes(project, 1, seed)[0], lambda d, t: None, lambda: False)
    return project, take


def land(project: Project, take: Any, section: Any, session: Path) -> str:
    """Land ``take``'s ``section`` into the Ardour session through the app's own path (``landing.deliver``);
    returns the landing's detail."""
    import dataclasses

    from daw_bridge.landing import deliver

    song = dataclasses.replace(project.song, daw=dataclasses.replace(project.song.daw, adapter="ardour",
                                                                      session=str(session)))
    stems = {}
    for label in take.stems:  # the section's span of each stem, as the landing's render job gives it
        audio, rate = sf.read(str(project.take_dir(take.id) / "stems" / f"{label}.wav"), always_2d=True)
        cut = session.parent / "rendered" / f"{take.id}-{slug(section.name)}-{label}.wav"
        cut.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(cut), audio[round(section.start_s * rate):round(section.end_s * rate)], rate)
        stems[label] = str(cut)
    purpose = Purpose("land", take=take.id, landing=Landing(
        str(session.parent / "unused"), section.name, round(song.tempo.seconds_to_bars(section.start_s), 3),
        song.tempo.bpm, section.start_s, section.end_s))
    adapter, detail = deliver(SimpleNamespace(song=song, project=project), purpose, {"files": stems})
    assert adapter == "ardour"
    return detail


def expected_parts(project: Project, take: Any, section: Any) -> dict[str, Any]:
    """Part -> the section's MIDI of that part, as ``export-midi --section`` gives it."""
    return split_parts(take_midi(project.take_dir(take.id), project.song, take, section))


def notes(mid: Any) -> list[tuple[float, int, int]]:
    """(beat, pitch, channel) of every note-on, in order."""
    out, now = [], 0
    for msg in mido.merge_tracks(mid.tracks):
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            out.append((round(now / mid.ticks_per_beat, 3), msg.note, msg.channel))
    return sorted(out)


def lyrics(mid: Any) -> list[str]:
    return [m.text for t in mid.tracks for m in t if m.type == "lyrics"]


def saved_midi_regions(session: Path) -> dict[str, list[dict[str, str]]]:
    """MIDI track name -> the regions on its playlist, as the session file has them."""
    root = ET.parse(session / f"{session.name}.ardour").getroot()
    playlists = {pl.get("id"): pl for pl in root.iter("Playlist")}
    return {r.get("name"): [dict(x.attrib) for x in playlists[r.get("midi-playlist")].findall("Region")]
            for r in root.iter("Route") if r.get("midi-playlist") in playlists}


def source_file(session: Path, region: dict[str, str]) -> Path:
    root = ET.parse(session / f"{session.name}.ardour").getroot()
    name = next(s.get("name") for s in root.iter("Source") if s.get("id") == region["source-0"])
    return session / "interchange" / session.name / "midifiles" / name


def assert_landed(session: Path, project: Project, take: Any, section: Any, rate: int = 44100,
                  with_lyrics: bool = True) -> None:
    """Each part of the section's MIDI on its ``SB <part> (MIDI)`` track, one region at the section's bar sample,
    its file holding the section's notes (and the vocal's lyrics)."""
    expected = expected_parts(project, take, section)
    assert sorted(expected) == sorted(PARTS)
    regions = saved_midi_regions(session)
    start_sc = superclock(round(section.start_s * rate), rate)
    for part, mid in expected.items():
        track = f"SB {part} (MIDI)"
        assert track in regions, sorted(regions)
        ours = [r for r in regions[track] if r["name"].startswith(f"sb-{slug(section.name)}-{take.id}-{part}-")]
        assert len(ours) == 1 and len(regions[track]) == 1, regions[track]
        region = ours[0]
        assert region["type"] == "midi"
        length, _, at = region["length"].partition("@")
        assert at == f"a{start_sc}", (track, region["length"], start_sc)
        beats = int(length.lstrip("b")) / ARDOUR_PPQN
        section_beats = project.song.tempo.seconds_to_quarters(section.end_s) - \
            project.song.tempo.seconds_to_quarters(section.start_s)
        assert abs(beats - section_beats) < 0.01, (beats, section_beats)
        saved = mido.MidiFile(str(source_file(session, region)))
        assert notes(saved) == notes(mid) and notes(mid), part
        if with_lyrics and part == "vocal":
            assert lyrics(saved) == lyrics(mid) and lyrics(mid)
