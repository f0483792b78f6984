"""The guide arrangement: bars with their chord, section role, intensity, fills and the ending.

Key and mode give the scale; the style's progression for the section's role gives one chord per bar (two per bar
for jazz in 4/4); sections shape the energy (sparser intro and verse, fuller chorus), the last bar before a new
section carries a fill, and the song ends on the tonic held under a crash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.song.key import Key
from engine.song.model import Section
from engine.song.tempo import TempoMap

from .styles import GuideStyle, progression

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
ROLE = {
    "intro": "intro", "verse": "verse", "pre-chorus": "verse", "prechorus": "verse", "chorus": "chorus",
    "hook": "chorus", "refrain": "chorus", "post-chorus": "chorus", "bridge": "bridge", "solo": "chorus",
    "instrumental": "chorus", "interlude": "intro", "break": "intro", "breakdown": "intro", "drop": "chorus",
    "outro": "intro", "ending": "intro", "end": "intro", "coda": "intro",
}
INTENSITY = {
    "intro": 0.35, "verse": 0.6, "pre-chorus": 0.75, "prechorus": 0.75, "chorus": 1.0, "hook": 1.0,
    "refrain": 1.0, "post-chorus": 0.9, "bridge": 0.7, "solo": 0.9, "instrumental": 0.85, "interlude": 0.5,
    "break": 0.3, "breakdown": 0.4, "drop": 1.0, "outro": 0.5, "ending": 0.45, "end": 0.45, "coda": 0.45,
}


@dataclass(frozen=True)
class Chord:
    root: int  # MIDI note of the root in the bass register
    notes: tuple[int, ...]  # MIDI notes of the voicing (keys register)
    tones: frozenset[int]  # pitch classes


@dataclass(frozen=True)
class Bar:
    index: int  # 0-based from bar 1
    start_s: float
    length_s: float
    beats: int
    beat_s: float
    chords: tuple[Chord, ...]  # one per half-bar for two-chord bars, else one
    kind: str  # section kind (verse, chorus ...)
    intensity: float
    fill: bool  # the last bar before a section change
    first: bool  # the first bar of a section
    last: bool  # the song's final bar

    def chord_at(self, t: float) -> Chord:
        if len(self.chords) == 1:
            return self.chords[0]
        i = min(len(self.chords) - 1, int((t - self.start_s) / self.length_s * len(self.chords)))
        return self.chords[max(0, i)]


@dataclass(frozen=True)
class Arrangement:
    bars: tuple[Bar, ...]
    scale: tuple[int, ...]  # pitch classes of the key's scale, tonic first
    tonic: int  # pitch class
    style: GuideStyle
    duration_s: float

    def bar_at(self, t: float) -> Bar | None:
        lo, hi = 0, len(self.bars) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            b = self.bars[mid]
            if t < b.start_s:
                hi = mid - 1
            elif t >= b.start_s + b.length_s:
                lo = mid + 1
            else:
                return b
        return None


def chord_for(degree: int, tonic: int, scale: tuple[int, ...], sevenths: bool) -> Chord:
    pcs = [(tonic + scale[(degree + k) % 7]) % 12 for k in ((0, 2, 4, 6) if sevenths else (0, 2, 4))]
    root = 36 + (pcs[0] - 0) % 12  # C2..B2
    if root > 45:
        root -= 12
    # Close voicing around middle C (MIDI 55..67), root-position-ish with the nearest inversion.
    notes = []
    for pc in pcs:
        n = 55 + (pc - 55) % 12
        notes.append(n)
    return Chord(root, tuple(sorted(notes)), frozenset(pcs))


def default_sections(tempo: TempoMap, duration_s: float, first_lyric_s: float | None,
                     last_lyric_s: float | None) -> tuple[Section, ...]:
    """Intro up to the first lyric's bar, one verse, and a two-bar ending."""
    total_bars = max(1, math.floor(tempo.seconds_to_bars(duration_s) - 1 + 1e-6))
    first = 1
    if first_lyric_s is not None:
        first = max(1, min(total_bars, math.floor(tempo.seconds_to_bars(first_lyric_s) + 1e-6)))
    out_start = max(first + 1, total_bars - 1) if total_bars > 3 else total_bars + 1
    sections = []
    if first > 1:
        sections.append(Section("intro", "Intro", tempo.bars_to_seconds(1), tempo.bars_to_seconds(first)))
    if out_start > first:
        sections.append(Section("verse", "Verse", tempo.bars_to_seconds(first), tempo.bars_to_seconds(out_start)))
    if out_start <= total_bars:
        sections.append(Section("outro", "Outro", tempo.bars_to_seconds(out_start),
                                tempo.bars_to_seconds(total_bars + 1)))
    return tuple(sections)


def arrange(tempo: TempoMap, key: Key, sections: tuple[Section, ...], style: GuideStyle,
            duration_s: float) -> Arrangement:
    scale = SCALES[key.mode]
    minor = scale[2] == 3
    tonic = key.pitch_class
    bars: list[Bar] = []
    index = 0
    sec_bar: dict[str, int] = {}
    while True:
        start = tempo.bars_to_seconds(1 + index)
        if start >= duration_s - 1e-6:
            break
        end = tempo.bars_to_seconds(2 + index)
        meter = tempo.meter_at(start)
        sec = next((s for s in sections if s.start_s - 1e-6 <= start < s.end_s - 1e-6), None)
        kind = sec.kind if sec else "verse"
        role = ROLE.get(kind, "verse")
        key_id = sec.id if sec else "_"
        n_in = sec_bar.get(key_id, 0)
        sec_bar[key_id] = n_in + 1
        prog = progression(style, minor, role)
        two = style.sevenths and meter.numerator == 4 and meter.denominator == 4 and style.kit == "jazz"
        if two:
            degs = (prog[(2 * n_in) % len(prog)], prog[(2 * n_in + 1) % len(prog)])
        else:
            degs = (prog[n_in % len(prog)],)
        chords = tuple(chord_for(d, tonic, scale, style.sevenths) for d in degs)
        next_sec = next((s for s in sections if s.start_s - 1e-6 <= end < s.end_s - 1e-6), None)
        beats = meter.numerator
        bars.append(Bar(
            index=index, start_s=start, length_s=end - start, beats=beats, beat_s=(end - start) / beats,
            chords=chords, kind=kind, intensity=INTENSITY.get(kind, 0.6),
            fill=(next_sec is not None and next_sec is not sec), first=n_in == 0, last=False,
        ))
        index += 1
    if bars:
        b = bars[-1]
        tonic_chord = chord_for(0, tonic, scale, style.sevenths)
        bars[-1] = Bar(b.index, b.start_s, b.length_s, b.beats, b.beat_s, (tonic_chord,), b.kind, b.intensity,
                       False, b.first, True)
    return Arrangement(tuple(bars), tuple((tonic + s) % 12 for s in scale), tonic, style, duration_s)
