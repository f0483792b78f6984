"""The guide arranges (energy by section, breakdowns in lyric gaps, fills) and writes what it plays as MIDI: a
track per part, the tempo, a marker per section, one lyric event per sung syllable at its onset."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from engine.backends.base import GenerationRequest
from engine.backends.guide.arrangement import arrange
from engine.backends.guide.backend import GuideBackend
from engine.backends.guide.styles import match_style
from engine.backends.guide.vocal import render_vocal
from engine.lyrics import auto_time, lines_from_lrc, parse
from engine.song import Key, LyricLine, Section, Song, Style, Take, TempoMap
from engine.song.sections import parse_sections
from engine.song.take_midi import read_midi, slice_midi, take_midi

LYRICS = """[verse]
Streetlights shiver on the wet black road
Every window holds a story never told
[chorus]
Neon rain, falling down on me
Washing out the colors of the memory
"""
SR = 44100


def request(tmp: Path, seed: int = 1, bpm: float = 92, take_id: str = "take-001") -> GenerationRequest:
    tempo = TempoMap.constant(bpm, bar1_s=0.3)  # bar 1 after a pre-roll: MIDI time 0 is still the song's 0 s
    sections = parse_sections("intro:2,verse:4,chorus:4,outro:2", tempo)
    lines = auto_time(lines_from_lrc(parse(LYRICS), sections), tempo, sections)
    return GenerationRequest(take_id, tmp / take_id, tuple(lines), Style("synth pop"), sections[-1].end_s, seed,
                             tempo, Key.parse("A minor"), sections, title="Neon Rain")


def events(mid: mido.MidiFile) -> list[tuple[float, int, mido.Message]]:
    """(seconds, track index, message) of every message, through the file's own tempo map."""
    out = []
    tempo_changes = []
    for t, msg in _abs(mid.tracks[0]):
        if msg.type == "set_tempo":
            tempo_changes.append((t, msg.tempo))

    def seconds(tick: int) -> float:
        s, last_t, last_tempo = 0.0, 0, 500000
        for t, tempo in tempo_changes:
            if t > tick:
                break
            s += mido.tick2second(t - last_t, mid.ticks_per_beat, last_tempo)
            last_t, last_tempo = t, tempo
        return s + mido.tick2second(tick - last_t, mid.ticks_per_beat, last_tempo)

    for i, track in enumerate(mid.tracks):
        for t, msg in _abs(track):
            out.append((seconds(t), i, msg))
    return out


def _abs(track: mido.MidiTrack) -> list[tuple[int, mido.Message]]:
    now, out = 0, []
    for msg in track:
        now += msg.time
        out.append((now, msg))
    return out


def test_the_take_writes_a_midi_file_of_what_it_plays(tmp_path: Path) -> None:
    req = request(tmp_path)
    backend = GuideBackend()
    backend.generate(req, lambda d, t: None, lambda: False)
    mid = mido.MidiFile(str(tmp_path / "take-001" / "guide.mid"))
    assert mid.type == 1 and mid.ticks_per_beat == 960
    names = [next(m.name for m in tr if m.type == "track_name") for tr in mid.tracks]
    assert names == ["Neon Rain", "Vocal", "Chords", "Bass", "Drums"]
    ev = events(mid)
    tempos = [m.tempo for _, i, m in ev if m.type == "set_tempo"]
    assert tempos == [round(60_000_000 / 92)]
    markers = [(s, m.text) for s, _, m in ev if m.type == "marker"]
    assert [t for _, t in markers] == [s.name for s in req.sections]
    for (s, _), section in zip(markers, req.sections, strict=True):
        assert abs(s - section.start_s) < 0.001
    drums = {m.channel for _, i, m in ev if i == 4 and m.type == "note_on"}
    assert drums == {9}  # channel 10
    assert {m.channel for _, i, m in ev if i == 3 and m.type == "note_on"} == {2}

    # One lyric event per sung syllable, at the syllable's note, at the vocal's onset in the audio.
    plan = backend.plan(req)
    lyrics = [(s, m.text) for s, i, m in ev if m.type == "lyrics"]
    ons = [s for s, i, m in ev if i == 1 and m.type == "note_on" and m.velocity > 0]
    assert len(lyrics) == len(plan.notes) == len(ons) > 20
    assert "".join(t.rstrip("-") for _, t in lyrics[:3]) == "Streetlights"  # hyphens where the word goes on
    audio = render_vocal(plan.notes, int((req.duration_s + 1) * SR))

    vocal, _ = sf.read(str(tmp_path / "take-001" / "stems" / "vocal.wav"), dtype="float32")
    assert np.abs(vocal[:, 0]).max() > 0 and np.abs(audio).max() > 0
    for (t, _), on, note in zip(lyrics, ons, plan.notes, strict=True):
        assert abs(t - on) < 1e-3 and abs(t - note.start_s) < 1e-3
        # The syllable rendered alone starts sounding within 10 ms of its lyric event.
        alone = render_vocal([note], int((note.start_s + note.dur_s + 0.2) * SR))
        first = int(np.flatnonzero(np.abs(alone) > 1e-5)[0]) / SR
        assert abs(first - t) <= 0.010, (note, t, first)
    # Each line's first syllable is the first sound after the silence before it, in the take's vocal stem.
    for line in sorted(req.lyrics, key=lambda ln: ln.start_s):
        t = line.start_s
        assert any(abs(lt - t) < 0.001 for lt, _ in lyrics)
        a, b = int((t - 0.05) * SR), int((t + 0.01) * SR)
        hits = np.flatnonzero(np.abs(vocal[a:b, 0]) > 1e-4)
        assert hits.size and abs((a + hits[0]) / SR - t) <= 0.010


def test_same_seed_same_audio_and_midi_other_seed_differs(tmp_path: Path) -> None:
    def digest(take: str) -> dict[str, str]:
        folder = tmp_path / take
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted([*folder.rglob("*.wav"), *folder.glob("*.mid")])}

    backend = GuideBackend()
    for seed, take in ((5, "take-001"), (5, "take-002"), (6, "take-003")):
        backend.generate(request(tmp_path, seed=seed, take_id=take), lambda d, t: None, lambda: False)
    a, b, c = digest("take-001"), digest("take-002"), digest("take-003")
    assert a == b and "guide.mid" in a
    assert a["guide.mid"] != c["guide.mid"] and a["vocal.wav"] != c["vocal.wav"]


def test_a_section_exported_alone_starts_at_its_first_beat(tmp_path: Path) -> None:
    req = request(tmp_path)
    GuideBackend().generate(req, lambda d, t: None, lambda: False)
    whole = read_midi(tmp_path / "take-001" / "guide.mid")
    chorus = next(s for s in req.sections if s.name == "Chorus")
    part = slice_midi(whole, req.tempo, chorus)
    ev = events(part)
    assert [m.text for _, _, m in ev if m.type == "marker"] == ["Chorus"]
    assert [m.tempo for _, _, m in ev if m.type == "set_tempo"] == [round(60_000_000 / 92)]
    whole_notes = sorted((s - chorus.start_s, i, m.note) for s, i, m in events(whole)
                         if m.type == "note_on" and m.velocity > 0 and chorus.start_s - 1e-4 <= s < chorus.end_s - 1e-4)
    part_notes = sorted((s, i, m.note) for s, i, m in ev if m.type == "note_on" and m.velocity > 0)
    assert len(part_notes) == len(whole_notes) > 50 and part_notes[0][0] >= 0
    for (a, ta, na), (b, tb, nb) in zip(part_notes, whole_notes, strict=True):
        assert abs(a - b) < 0.002 and (ta, na) == (tb, nb)
    length = chorus.end_s - chorus.start_s
    assert all(s <= length + 1e-3 for s, _, m in ev)  # nothing sounds past the section's end
    take = Take("take-001", "guide", 1, duration_s=req.duration_s)
    song = Song(tempo=req.tempo, sections=req.sections)
    assert len(take_midi(tmp_path / "take-001", song, take, chorus).tracks) == 5
    with pytest.raises(Exception, match="has no MIDI"):
        take_midi(tmp_path / "nowhere", song, Take("take-009", "diffrhythm", 1), None)


def _bar_rms(stem: np.ndarray, bar) -> float:
    a, b = int(bar.start_s * SR), int((bar.start_s + bar.length_s) * SR)
    return float(np.sqrt(np.mean(np.square(stem[a:b], dtype=np.float64))))


def test_energy_follows_the_sections_and_a_lyric_gap_breaks_down(tmp_path: Path) -> None:
    tempo = TempoMap.constant(100)
    text = ("[intro]\n[verse]\nRed lights on the river\nBlue smoke in the air\n[pre-chorus]\nHold on now\n"
            "[chorus]\nWe are the fire tonight\nWe are the fire\n[bridge]\nSlow down and let the night go by\n"
            "Slow down and let the morning wait\n[chorus]\nWe are the fire\n")
    # The verse has 8 bars though its two lines need two: its last bars are a gap in the lyrics.
    sections = parse_sections("intro:2,verse:8,pre-chorus:4,chorus:4,bridge:4,chorus:4", tempo)
    lines = auto_time(lines_from_lrc(parse(text), sections), tempo, sections)
    req = GenerationRequest("t", tmp_path / "t", tuple(lines), Style("pop"), sections[-1].end_s, 3, tempo,
                            Key.parse("C major"), sections)
    backend = GuideBackend()
    plan = backend.plan(req)
    bars = plan.arrangement.bars
    energy = {s.name: [b.intensity for b in bars if s.start_s - 1e-6 <= b.start_s < s.end_s - 1e-6] for s in sections}
    assert max(energy["Intro"]) < min(energy["Verse"][:2]) < min(energy["Chorus 1"])
    pre = energy["Pre-Chorus"]
    assert pre == sorted(pre)  # building
    assert energy["Chorus 2"][0] > energy["Chorus 1"][0]  # the last chorus is the fullest
    assert {b.texture for b in bars if b.kind == "bridge"} == {"half"}
    verse = [b for b in bars if b.kind == "verse"]
    # Sung in bars 1 and 3 (a line needs a bar here): a one-bar rest is not a gap, bars 4..8 are.
    assert [b.breakdown for b in verse] == [False] * 3 + [True] * 5
    assert verse[-1].fill and verse[-1].fill_beats == 1
    chorus_in = [b for b in bars if b.fill and bars[b.index + 1].kind == "chorus"]
    assert chorus_in and all(b.fill_beats == 2 for b in chorus_in)
    stems = backend.render(req, lambda d, t: None, lambda: False, plan)
    drums = stems["drums"]
    assert _bar_rms(drums, verse[5]) < 0.6 * _bar_rms(drums, verse[1])  # the gap breaks down
    chorus_bars = [b for b in bars if b.kind == "chorus" and not b.fill and not b.last]
    mix = sum(stems.values())
    chorus_db = 20 * np.log10(np.mean([_bar_rms(mix, b) for b in chorus_bars]))
    verse_db = 20 * np.log10(np.mean([_bar_rms(mix, b) for b in verse[:3]]))
    assert chorus_db - verse_db >= 3.0
    # Kick on every downbeat, a crash at each section start after the first.
    kicks = {round(h.start_s, 4) for h in plan.hits["drums"] if h.sound == "kick"}
    assert all(round(b.start_s, 4) in kicks for b in bars)
    crashes = {round(h.start_s, 4) for h in plan.hits["drums"] if h.sound == "crash"}
    assert all(round(s.start_s, 4) in crashes for s in sections[1:])


def test_the_arrangement_takes_any_section_kind() -> None:
    tempo = TempoMap.constant(120)
    kinds = ["Pre-Chorus", "Post Chorus", "Hook 2", "Chorus x", "Drop", "Interlude", "Tag", "Whatever"]
    sections = tuple(Section(f"s{i}", k, tempo.bars_to_seconds(1 + 2 * i), tempo.bars_to_seconds(3 + 2 * i))
                     for i, k in enumerate(kinds))
    arr = arrange(tempo, Key.parse("C major"), sections, match_style("rock"), sections[-1].end_s,
                  [(0.0, sections[-1].end_s)])
    assert len(arr.bars) == 2 * len(kinds)
    assert all(0.0 < b.intensity <= 1.0 for b in arr.bars)
    assert LyricLine  # the line type the plan reads
