"""Comping: the song as the producer chose it, section by section (issue 26).

``Song.accepted`` names a take per section id ("" = the whole song). A comped song is heard, rendered and landed as
one piece of audio: each section from its accepted take, everything else (and every section without a choice) from
the song's take (the song's accepted take, else the newest song take; never a loop), joined with short linear
crossfades centred on each boundary between two takes. :func:`comp_pieces` says which take plays where (pure: a
song in, pieces out); :func:`read_comp` assembles one stem from them. ``songbridge render``, the app's render and
the DAW landing (``daw_bridge.landing``) all call these, through ``RenderSettings.comp`` (``engine.render``).

Lineage (what an edited take came from) is here too: :func:`lineage` gives an edit's parent and its regenerated
ranges in seconds and in bars, as the takes list and the take lanes show them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import SongBridgeError
from engine.song.model import SAMPLE_RATE, Song, Take

if TYPE_CHECKING:
    from engine.song.project import Project

#: Length of the crossfade at a boundary between two takes, centred on it (half before, half after).
XFADE_S = 0.02


@dataclass(frozen=True)
class Piece:
    """``take`` plays over [start_s, end_s) of the song."""

    take: str
    start_s: float
    end_s: float


def is_loop(take: Take) -> bool:
    from engine.session.regenerate import is_loop as _is_loop  # the one rule for "a loop"

    return _is_loop(take)


def song_take(song: Song) -> Take | None:
    """The take the song plays where no section chose one: the song's accepted take, else the newest song take."""
    chosen = song.accepted.get("")
    if chosen:
        try:
            take = song.take(chosen)
        except KeyError:
            take = None
        if take is not None and not is_loop(take):
            return take
    from engine.session.regenerate import is_song_take

    return next((t for t in reversed(song.takes) if is_song_take(t)), None)


def section_takes(song: Song) -> dict[str, Take]:
    """Section id -> its accepted take, for the sections that have one (loops never count)."""
    out = {}
    for s in song.sections:
        tid = song.accepted.get(s.id)
        if not tid:
            continue
        try:
            take = song.take(tid)
        except KeyError:
            continue
        if not is_loop(take):
            out[s.id] = take
    return out


def is_comped(song: Song) -> bool:
    """Some section plays another take than the song's take."""
    base = song_take(song)
    return base is not None and any(t.id != base.id for t in section_takes(song).values())


def comp_pieces(song: Song) -> tuple[Piece, ...]:
    """Which take plays where, from 0 to the end of the song's take; neighbours of the same take joined. A section
    whose take is shorter than the section plays the song's take after its end."""
    base = song_take(song)
    if base is None:
        raise SongBridgeError("there is no song take to render yet; generate the song first")
    end = base.duration_s
    chosen = section_takes(song)
    spans: list[Piece] = []
    t = 0.0
    for s in sorted(song.sections, key=lambda s: s.start_s):
        take = chosen.get(s.id)
        if take is None or take.id == base.id or s.start_s >= end:
            continue
        a, b = max(s.start_s, t), min(s.end_s, end, take.duration_s)
        if b <= a:
            continue
        if a > t:
            spans.append(Piece(base.id, t, a))
        spans.append(Piece(take.id, a, b))
        t = b
    if t < end:
        spans.append(Piece(base.id, t, end))
    joined: list[Piece] = []
    for p in spans:
        if joined and joined[-1].take == p.take and abs(joined[-1].end_s - p.start_s) < 1e-9:
            joined[-1] = Piece(p.take, joined[-1].start_s, p.end_s)
        else:
            joined.append(p)
    return tuple(joined)


def check_pieces(song: Song, pieces: tuple[Piece, ...]) -> tuple[str, ...]:
    """The comp's stems: every stem of its pieces' takes, in the order they first appear (the first piece's take's
    first). A piece whose take has no such stem plays silence in it (a neural take not split yet beside a guide take, a
    take with an added part beside one without): the mix of the comp is each piece's whole take all the same. An
    error naming the take when a piece's take is not in the song."""
    if not pieces:
        raise SongBridgeError("comp: nothing to play")
    try:
        takes = [song.take(p.take) for p in pieces]
    except KeyError as exc:
        raise SongBridgeError(f"comp: {exc.args[0]}") from None
    return tuple(dict.fromkeys(s for take in takes for s in take.stems))


def read_comp(project: Project, pieces: tuple[Piece, ...], stem: str, cache: dict[str, Any] | None = None,
              xfade_s: float = XFADE_S) -> np.ndarray:
    """One stem of the comp, float32 [frames, channels]: each piece from its take's stem file (its grid-locked copy
    while locked), linear crossfades of ``xfade_s`` centred on each boundary between two pieces."""
    from engine.audio.io import read_audio

    cache = {} if cache is None else cache
    if any(k.name != f"{stem}.wav" for k in cache):
        cache.clear()  # one stem at a time: memory for the takes of this stem only

    def source(take_id: str) -> np.ndarray:
        path = project.audio_dir(take_id) / "stems" / f"{stem}.wav"
        if stem not in project.song.take(take_id).stems:  # this take has no such stem: silence in it
            return np.zeros((0, 2), dtype=np.float32)
        if path not in cache:
            audio, sr = read_audio(path)
            if sr != SAMPLE_RATE:
                raise SongBridgeError(f"{path}: {sr} Hz; takes are {SAMPLE_RATE} Hz")
            cache[path] = audio
        return cache[path]

    total = int(round(pieces[-1].end_s * SAMPLE_RATE))
    channels = max(source(p.take).shape[1] for p in pieces)
    out = np.zeros((total, channels), dtype=np.float32)
    h = max(1, int(round(xfade_s * SAMPLE_RATE / 2)))
    last = len(pieces) - 1
    for i, p in enumerate(pieces):
        a, b = int(round(p.start_s * SAMPLE_RATE)), int(round(p.end_s * SAMPLE_RATE))
        lo = max(0, a - h) if i > 0 else 0
        hi = min(total, b + h) if i < last else total
        src = source(p.take)
        have = src[lo:min(hi, len(src))]  # past the take's end: silence
        if have.shape[1] < channels:  # a mono take beside stereo ones
            have = np.repeat(have[:, :1], channels, axis=1)
        # full level between the fades (copied as is: sample-identical to the take), ramps over each fade
        f0 = min(len(have), a + h - lo) if i > 0 else 0
        f1 = max(f0, min(len(have), b - h - lo)) if i < last else len(have)
        out[lo + f0:lo + f1] += have[f0:f1]
        if f0 > 0:  # fade in over [a - h, a + h); the piece before fades out over the same samples
            w = ((np.arange(lo, lo + f0) - (a - h) + 0.5) / (2 * h)).astype(np.float32)
            out[lo:lo + f0] += have[:f0] * np.clip(w, 0, 1)[:, None]
        if f1 < len(have):
            w = (1.0 - (np.arange(lo + f1, lo + len(have)) - (b - h) + 0.5) / (2 * h)).astype(np.float32)
            out[lo + f1:lo + len(have)] += have[f1:] * np.clip(w, 0, 1)[:, None]
    return out


def describe(song: Song, pieces: tuple[Piece, ...]) -> str:
    """"take-003 0:00-0:16 (Chorus 1), take-005 ..." for the command line and the render record."""
    parts = []
    for p in pieces:
        names = [s.name for s in song.sections if p.start_s - 1e-6 <= s.start_s < p.end_s - 1e-6]
        parts.append(f"{p.take} {p.start_s:.2f}-{p.end_s:.2f} s" + (f" ({', '.join(names)})" if names else ""))
    return ", ".join(parts)


# -- lineage ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lineage:
    parent: str
    ranges_s: tuple[tuple[float, float], ...]
    bars: tuple[tuple[float, float], ...]  # [start, end) 1-based bar numbers in the song's tempo

    def bars_text(self) -> str:
        """"bars 9-12, 25-28" as a producer counts them (the bars the ranges touch, first and last)."""
        return "bars " + ", ".join(bar_span(a, b) for a, b in self.bars) if self.bars else ""


def bar_span(a: float, b: float) -> str:
    first = math.floor(a + 1e-6)
    last = max(first, math.ceil(b - 1e-6) - 1)
    return f"{first}" if first == last else f"{first}-{last}"


def edit_record(song: Song, ranges: tuple[tuple[float, float], ...], parent: str) -> dict[str, Any]:
    """What an edited take keeps of its edit (``Take.analysis["edit"]``): its parent and its ranges in seconds and in
    bars as they were when it was made (a later tempo change does not move what was regenerated)."""
    tm = song.tempo
    return {"parent": parent, "ranges_s": [[round(a, 6), round(b, 6)] for a, b in ranges],
            "bars": [[round(tm.seconds_to_bars(a), 4), round(tm.seconds_to_bars(b), 4)] for a, b in ranges]}


def stamp_lineage(song: Song, take: Take) -> Take:
    """An edited take as committed: its edit record (parent, ranges in seconds and bars) in ``analysis["edit"]``."""
    if not take.parent or not take.edited_ranges or "edit" in take.analysis:
        return take
    rec = edit_record(song, tuple((r.start_s, r.end_s) for r in take.edited_ranges), take.parent)
    return replace(take, analysis={**take.analysis, "edit": rec})


def lineage(song: Song, take: Take) -> Lineage | None:
    """The take's parent and regenerated ranges, or None for a take that is not an edit."""
    if not take.parent:
        return None
    ranges = tuple((r.start_s, r.end_s) for r in take.edited_ranges)
    rec = take.analysis.get("edit")
    bars: tuple[tuple[float, float], ...] = ()
    if isinstance(rec, dict) and isinstance(rec.get("bars"), list):
        try:
            bars = tuple((float(a), float(b)) for a, b in rec["bars"])
        except (TypeError, ValueError):
            bars = ()
    if len(bars) != len(ranges):
        bars = tuple((song.tempo.seconds_to_bars(a), song.tempo.seconds_to_bars(b)) for a, b in ranges)
    return Lineage(take.parent, ranges, bars)


def lineage_text(song: Song, take: Take) -> str:
    """" ← take-003, bars 17-24" for an edited take, else ""."""
    lin = lineage(song, take)
    if lin is None:
        return ""
    return f" ← {lin.parent}" + (f", {lin.bars_text()}" if lin.bars else "")
