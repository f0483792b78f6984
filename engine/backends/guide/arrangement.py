"""The guide arrangement: bars with their chord, section role, energy, texture, fills and the ending.

Key and mode give the scale; the style's progression for the section's role gives one chord per bar (two per bar
for jazz in 4/4). The song's shape comes from its sections, by kind and by place (see :func:`section_shape`):

- intro and outro are sparse (a kick on the downbeat, quarter hats, held chords, whole-note bass);
- verses groove at moderate energy, a little more each time;
- a pre-chorus (or build) rises bar by bar and rolls into what follows;
- choruses are fullest: the whole groove, open hats, wider keys with an added pad layer, the bass doubled an
  octave up, a slightly louder vocal; each chorus a little fuller than the one before;
- a bridge is different: half-time drums, arpeggiated keys, half-note bass;
- where the lyrics leave a gap of two bars or more inside a verse or a bridge, those bars break down to the
  sparse texture, and the last one fills back in;
- the last bar before a new section carries a fill (two beats long into a chorus, one otherwise), a new section
  opens with a crash, and the song ends on the tonic held under a crash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
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
#: Section kind (letters only, lower case) -> (progression role, texture, energy 0..1).
#: Textures: sparse | groove | build | full | half. Unknown kinds take their longest known prefix, else "verse".
SHAPES: dict[str, tuple[str, str, float]] = {
    "intro": ("intro", "sparse", 0.3), "verse": ("verse", "groove", 0.5),
    "prechorus": ("verse", "build", 0.65), "build": ("verse", "build", 0.65), "buildup": ("verse", "build", 0.65),
    "chorus": ("chorus", "full", 0.9), "hook": ("chorus", "full", 0.9), "refrain": ("chorus", "full", 0.9),
    "postchorus": ("chorus", "groove", 0.75), "drop": ("chorus", "full", 0.95), "tag": ("chorus", "full", 0.85),
    "bridge": ("bridge", "half", 0.5), "interlude": ("intro", "half", 0.45), "solo": ("chorus", "groove", 0.8),
    "instrumental": ("chorus", "groove", 0.75), "inst": ("chorus", "groove", 0.75),
    "break": ("intro", "sparse", 0.25), "breakdown": ("intro", "sparse", 0.25),
    "outro": ("intro", "sparse", 0.35), "ending": ("intro", "sparse", 0.35), "end": ("intro", "sparse", 0.35),
    "coda": ("intro", "sparse", 0.35),
}
#: Kinds that carry no lyrics by design: a gap in them is not a breakdown.
INSTRUMENTAL = frozenset({"intro", "outro", "ending", "end", "coda", "solo", "instrumental", "inst", "interlude",
                          "break", "breakdown", "drop"})
#: Bars without a sung note, inside a sung section, that make a breakdown.
BREAKDOWN_BARS = 2


def shape_of(kind: str) -> tuple[str, str, float]:
    """(role, texture, base energy) of a section kind such as ``"pre-chorus"`` or ``"Chorus x"``."""
    k = re.sub(r"[^a-z]", "", kind.lower())
    if k in SHAPES:
        return SHAPES[k]
    for known in sorted(SHAPES, key=len, reverse=True):
        if k.startswith(known):
            return SHAPES[known]
    return SHAPES["verse"]


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
    intensity: float  # energy 0..1: how loud and busy every part plays
    fill: bool  # the last bar before a section change (or before the end of a breakdown)
    first: bool  # the first bar of a section
    last: bool  # the song's final bar
    texture: str = "groove"  # sparse | groove | build | full | half (see the module)
    fill_beats: int = 0  # how many beats at the bar's end the fill takes
    breakdown: bool = False  # a gap in the lyrics broken down to the sparse texture
    build: float = 0.0  # 0..1 through a building section (pre-chorus), else 0

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


def _gaps(bars: list[tuple[float, float, Section | None]], sung: Sequence[tuple[float, float]]) -> set[int]:
    """Indices of bars in runs of at least ``BREAKDOWN_BARS`` unsung bars inside a sung section (instrumental
    kinds and the song's last two bars excepted)."""
    quiet = []
    for a, b, sec in bars:
        vocal_section = sec is not None and re.sub(r"[^a-z]", "", sec.kind) not in INSTRUMENTAL
        quiet.append(vocal_section and not any(s0 < b - 1e-6 and s1 > a + 1e-6 for s0, s1 in sung))
    out: set[int] = set()
    i = 0
    while i < len(quiet):
        if not quiet[i]:
            i += 1
            continue
        j = i
        while j < len(quiet) and quiet[j] and bars[j][2] is bars[i][2]:
            j += 1
        if j - i >= BREAKDOWN_BARS and j < len(quiet) - 1:
            out.update(range(i, j))
        i = j
    return out


def arrange(tempo: TempoMap, key: Key, sections: tuple[Section, ...], style: GuideStyle,
            duration_s: float, sung: Sequence[tuple[float, float]] = ()) -> Arrangement:
    """The bars of the song. ``sung``: (start, end) seconds of every sung line, so gaps can break down."""
    scale = SCALES[key.mode]
    minor = scale[2] == 3
    tonic = key.pitch_class
    ordered = sorted(sections, key=lambda s: s.start_s)
    spans: list[tuple[float, float, Section | None]] = []
    index = 0
    while True:
        start = tempo.bars_to_seconds(1 + index)
        if start >= duration_s - 1e-6:
            break
        end = tempo.bars_to_seconds(2 + index)
        spans.append((start, end, next((s for s in ordered if s.start_s - 1e-6 <= start < s.end_s - 1e-6), None)))
        index += 1
    gaps = _gaps(spans, sung)
    # Place in the song: how many sections of each texture came before, and which chorus is the last.
    seen: dict[str, int] = {}
    place: dict[str, int] = {}
    for sec in ordered:
        texture = shape_of(sec.kind)[1]
        place[sec.id] = seen.get(texture, 0)
        seen[texture] = place[sec.id] + 1
    last_full = next((s.id for s in reversed(ordered) if shape_of(s.kind)[1] == "full"), None)
    sec_bars = {s.id: sum(1 for _, _, x in spans if x is s) for s in ordered}
    bars: list[Bar] = []
    sec_bar: dict[str, int] = {}
    for index, (start, end, sec) in enumerate(spans):
        meter = tempo.meter_at(start)
        kind = sec.kind if sec else "verse"
        role, texture, energy = shape_of(kind)
        key_id = sec.id if sec else "_"
        n_in = sec_bar.get(key_id, 0)
        sec_bar[key_id] = n_in + 1
        n_sec = sec_bars.get(key_id, 1) or 1
        nth = place.get(key_id, 0)
        build = 0.0
        if texture == "groove" and role == "verse":
            energy = min(energy + 0.04 * nth, 0.6)
        elif texture == "full":
            energy = 1.0 if key_id == last_full else min(energy + 0.04 * nth, 0.98)
        elif texture == "build":
            build = n_in / max(1, n_sec - 1)
            energy = energy + (0.85 - energy) * build
        elif texture == "sparse" and role == "intro" and n_in and kind.lower().startswith(("outro", "end", "coda")):
            energy = max(0.2, energy - 0.12 * n_in / max(1, n_sec - 1))  # the outro thins out
        breakdown = index in gaps and texture in ("groove", "half")  # a build or a chorus carries on
        if breakdown:
            texture, energy = "sparse", min(energy, 0.28)
        prog = progression(style, minor, role)
        two = style.sevenths and meter.numerator == 4 and meter.denominator == 4 and style.kit == "jazz"
        if two:
            degs = (prog[(2 * n_in) % len(prog)], prog[(2 * n_in + 1) % len(prog)])
        else:
            degs = (prog[n_in % len(prog)],)
        chords = tuple(chord_for(d, tonic, scale, style.sevenths) for d in degs)
        nxt = spans[index + 1][2] if index + 1 < len(spans) else None
        change = index + 1 < len(spans) and nxt is not sec
        back_in = breakdown and index + 1 < len(spans) and index + 1 not in gaps and not change
        fill_beats = 0
        if change and nxt is not None:
            fill_beats = 2 if shape_of(nxt.kind)[1] == "full" else 1
        elif back_in:
            fill_beats = 1
        beats = meter.numerator
        bars.append(Bar(
            index=index, start_s=start, length_s=end - start, beats=beats, beat_s=(end - start) / beats,
            chords=chords, kind=kind, intensity=round(energy, 4), fill=fill_beats > 0, first=n_in == 0, last=False,
            texture=texture, fill_beats=min(fill_beats, max(1, beats - 1)), breakdown=breakdown, build=build,
        ))
    if bars:
        b = bars[-1]
        tonic_chord = chord_for(0, tonic, scale, style.sevenths)
        bars[-1] = Bar(b.index, b.start_s, b.length_s, b.beats, b.beat_s, (tonic_chord,), b.kind, b.intensity,
                       False, b.first, True, b.texture, 0, b.breakdown, b.build)
    return Arrangement(tuple(bars), tuple((tonic + s) % 12 for s in scale), tonic, style, duration_s)
