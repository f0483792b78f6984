"""The guide as a Standard MIDI File: what the guide's audio plays, as notes for the DAW.

Format 1, 960 ticks per quarter note (:data:`engine.song.tempo.PPQ`). Track 0 is the conductor: the song's title,
its tempo map (a tempo and time signature at every segment), its key, and a marker per section at the section's
start. Then a track per part, each named:

- ``Vocal`` (channel 1): the guide melody, one note per sung syllable, and before each note a lyric meta event
  with the syllable as written (``"Ne-"``, ``"on"``: a hyphen where the word goes on, as karaoke files do);
- ``Chords`` (channel 2): the keys, with the chorus's pad layer;
- ``Bass`` (channel 3);
- ``Drums`` (channel 10): General MIDI percussion keys (:data:`.score.GM_DRUMS`).

Times are the audio's: a note's tick is its start in seconds through the tempo map, rounded to the nearest tick
(under 1 ms at any tempo a song uses). Overlapping notes of one pitch on one channel are cut where the next one
starts, since MIDI cannot hold the same key down twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.song.key import Key
from engine.song.model import Section
from engine.song.tempo import PPQ, TempoMap

from .score import Hit

if TYPE_CHECKING:
    from .vocal import SungNote

#: (track name, MIDI channel 0-based) per part, in file order after the conductor track.
TRACKS = (("vocal", "Vocal", 0), ("keys", "Chords", 1), ("bass", "Bass", 2), ("drums", "Drums", 9))
#: General MIDI programs for the guide's voices (0-based).
PROGRAMS = {"piano": 0, "rhodes": 4, "organ": 16, "guitar": 25, "pad": 89, "finger": 33, "pick": 34, "sub": 38,
            "upright": 32, "vocal": 52}
_KEY_NAMES = {"C": "C", "C#": "C#", "Db": "Db", "D": "D", "D#": "Eb", "Eb": "Eb", "E": "E", "F": "F", "F#": "F#",
              "Gb": "Gb", "G": "G", "G#": "Ab", "Ab": "Ab", "A": "A", "A#": "Bb", "Bb": "Bb", "B": "B"}


@dataclass(frozen=True)
class _Note:
    start_s: float
    end_s: float
    pitch: int
    velocity: int
    lyric: str | None = None


def _ticks(tempo: TempoMap, origin_s: float) -> Any:
    q0 = tempo.seconds_to_quarters(origin_s)
    return lambda t: max(0, round((tempo.seconds_to_quarters(t) - q0) * PPQ))


def _velocity(gain: float, ref: float) -> int:
    return max(1, min(127, round(24 + 103 * gain / ref))) if ref > 0 else 100


def part_notes(hits: Sequence[Hit], part: str) -> list[_Note]:
    ref = max((h.gain for h in hits), default=1.0)
    out = []
    for h in hits:
        dur = h.dur_s if part != "drums" else 0.1
        out.append(_Note(h.start_s, h.start_s + max(0.01, dur), h.midi, _velocity(h.gain, ref)))
    return out


def vocal_notes(notes: Sequence[SungNote]) -> list[_Note]:
    return [_Note(n.start_s, n.start_s + n.dur_s, n.midi,
                  max(1, min(127, round(100 * n.level * (1.0 if n.syllable.stress == 1 else 0.85)))),
                  n.text or n.syllable.vowel.lower())
            for n in notes]


def _track(mido: Any, name: str, channel: int, program: int, notes: Iterable[_Note], tick: Any,
           lo_s: float, hi_s: float, end_tick: int) -> Any:
    """A track of ``notes`` that start within [lo_s, hi_s), cut at ``hi_s``."""
    chosen = sorted((n for n in notes if lo_s - 1e-9 <= n.start_s < hi_s - 1e-9), key=lambda n: (n.start_s, n.pitch))
    # One key held once: a note of a pitch still sounding ends where the next of that pitch starts.
    last: dict[int, int] = {}
    cut: list[_Note] = []
    for n in chosen:
        if n.pitch in last:
            i = last[n.pitch]
            prev = cut[i]
            if prev.end_s > n.start_s:
                cut[i] = _Note(prev.start_s, n.start_s, prev.pitch, prev.velocity, prev.lyric)
        last[n.pitch] = len(cut)
        cut.append(n)
    events: list[tuple[int, int, Any]] = []  # (tick, order: offs before lyrics before ons, message)
    for n in cut:
        on, off = tick(n.start_s), tick(min(n.end_s, hi_s))
        off = max(off, on + 1)
        if n.lyric is not None:
            events.append((on, 1, mido.MetaMessage("lyrics", text=n.lyric)))
        events.append((on, 2, mido.Message("note_on", channel=channel, note=n.pitch, velocity=n.velocity)))
        events.append((off, 0, mido.Message("note_off", channel=channel, note=n.pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    now = 0
    for t, _, msg in events:
        track.append(msg.copy(time=t - now))
        now = t
    track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
    return track


def guide_midi(hits: dict[str, list[Hit]], notes: Sequence[SungNote], tempo: TempoMap, key: Key,
               sections: Sequence[Section], duration_s: float, *, title: str = "",
               section: Section | None = None, voices: dict[str, str] | None = None) -> Any:
    """The guide as a ``mido.MidiFile``. With ``section``, only that section, its start at tick 0 (to be placed at
    the section's bar in the DAW); else the whole song from 0 s."""
    import mido

    lo, hi = (section.start_s, section.end_s) if section is not None else (0.0, duration_s)
    hi = min(hi, duration_s)
    tick = _ticks(tempo, lo)
    end_tick = tick(hi)
    mid = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    conductor = mido.MidiTrack()
    events: list[tuple[int, int, Any]] = []
    events.append((0, 0, mido.MetaMessage("track_name", name=title or "SongBridge guide")))
    # The tempo and meter in force at the start, then every change inside the span.
    starts = [tempo.bars_to_seconds(seg.bar) for seg in tempo.segments]
    starts[0] = float("-inf")  # the first tempo also holds before bar 1 (a pre-roll)
    for i, (seg, at) in enumerate(zip(tempo.segments, starts, strict=True)):
        following = starts[i + 1] if i + 1 < len(starts) else float("inf")
        if following <= lo + 1e-9 or at >= hi - 1e-9:
            continue
        t = 0 if at <= lo else tick(at)
        events.append((t, 1, mido.MetaMessage("set_tempo", tempo=round(60_000_000 / seg.bpm))))
        events.append((t, 2, mido.MetaMessage("time_signature", numerator=seg.meter.numerator,
                                              denominator=seg.meter.denominator, clocks_per_click=24,
                                              notated_32nd_notes_per_beat=8)))
    name = _KEY_NAMES.get(key.tonic, "C") + ("m" if key.mode in ("minor", "dorian") else "")
    try:
        events.append((0, 3, mido.MetaMessage("key_signature", key=name)))
    except (ValueError, KeyError):
        pass  # a spelling mido does not take (e.g. "Gbm"): the key is in the title's project anyway
    for s in sorted(sections, key=lambda s: s.start_s):
        if section is not None and s.id != section.id:
            continue
        if lo - 1e-9 <= s.start_s < hi - 1e-9:
            events.append((tick(s.start_s), 4, mido.MetaMessage("marker", text=s.name)))
    events.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for t, _, msg in events:
        conductor.append(msg.copy(time=t - now))
        now = t
    conductor.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
    mid.tracks.append(conductor)
    voices = voices or {}
    for part, track_name, channel in TRACKS:
        notes_ = vocal_notes(notes) if part == "vocal" else part_notes(hits.get(part, []), part)
        program = PROGRAMS.get(voices.get(part, "vocal" if part == "vocal" else ""), 0)
        mid.tracks.append(_track(mido, track_name, channel, program, notes_, tick, lo, hi, end_tick))
    return mid


def write_midi(mid: Any, path: Path, root: Path | None = None) -> Path:
    """Save a ``mido.MidiFile`` at ``path``, never through a link (``root``: see :func:`engine.safe_fs.open_write`)."""
    from engine.safe_fs import open_write

    with open_write(path, root) as fh:
        mid.save(file=fh)
    return Path(path)
