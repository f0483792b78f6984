"""Song edits the timeline and panels make, as pure functions (Song in, Song out) so they are easy to test and
every one goes through the undo stack."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from engine.song.model import LyricLine, Song, new_id
from engine.song.tempo import Grid


def snap(song: Song, t: float, grid: Grid | None) -> float:
    return max(0.0, t if grid is None else song.tempo.snap(t, grid))


def move_lines(song: Song, ids: Iterable[str], dt: float, grid: Grid | None, anchor: str | None = None) -> Song:
    """Move lines by ``dt`` seconds; with a grid the anchor line (the one dragged) lands on the grid and the others
    keep their distance to it. Word stamps move with their line."""
    ids = set(ids)
    by_id = {ln.id: ln for ln in song.lyrics}
    lead = by_id.get(anchor) if anchor else None
    if lead is None or lead.start_s is None:
        lead = next((ln for ln in song.lyrics if ln.id in ids and ln.start_s is not None), None)
    if lead is None:
        return song
    target = snap(song, lead.start_s + dt, grid)
    shift = target - lead.start_s
    shift = max(shift, -min(by_id[i].start_s for i in ids if by_id[i].start_s is not None))

    def moved(ln: LyricLine) -> LyricLine:
        if ln.id not in ids or ln.start_s is None:
            return ln
        return replace(ln, start_s=ln.start_s + shift, end_s=None if ln.end_s is None else ln.end_s + shift,
                       words=tuple(replace(w, start_s=w.start_s + shift,
                                           end_s=None if w.end_s is None else w.end_s + shift) for w in ln.words))

    return song.with_lyrics(moved(ln) for ln in song.lyrics)


def set_line_end(song: Song, line_id: str, end: float, grid: Grid | None) -> Song:
    def f(ln: LyricLine) -> LyricLine:
        if ln.id != line_id or ln.start_s is None:
            return ln
        e = snap(song, end, grid)
        return replace(ln, end_s=max(ln.start_s + 0.05, e))

    return song.with_lyrics(f(ln) for ln in song.lyrics)


def set_line_text(song: Song, line_id: str, text: str) -> Song:
    return song.with_lyrics(replace(ln, text=text.strip()) if ln.id == line_id else ln for ln in song.lyrics)


def split_line(song: Song, line_id: str, at: float) -> Song:
    """Split a line's words in two at time ``at``: the second half starts there."""
    out = []
    for ln in song.lyrics:
        if ln.id != line_id or ln.start_s is None:
            out.append(ln)
            continue
        words = ln.text.split()
        if len(words) < 2:
            out.append(ln)
            continue
        half = len(words) // 2
        out.append(replace(ln, text=" ".join(words[:half]), end_s=None, words=()))
        out.append(LyricLine(new_id("line"), " ".join(words[half:]), max(at, ln.start_s + 0.05), ln.end_s, (),
                             ln.section_id))
    return song.with_lyrics(out)


def merge_lines(song: Song, ids: Iterable[str]) -> Song:
    ids = [i for i in (ln.id for ln in song.timed_lines()) if i in set(ids)]
    if len(ids) < 2:
        return song
    by_id = {ln.id: ln for ln in song.lyrics}
    first = by_id[ids[0]]
    merged = replace(first, text=" ".join(by_id[i].text for i in ids), end_s=by_id[ids[-1]].end_s,
                     words=tuple(w for i in ids for w in by_id[i].words))
    return song.with_lyrics(merged if ln.id == first.id else ln for ln in song.lyrics if ln.id not in ids[1:])


def tap_times(song: Song, order: list[str], taps: list[float], grid: Grid | None) -> Song:
    """Tap-to-time: the n-th tap sets the start of the n-th line in ``order``."""
    stamps = {line_id: snap(song, t, grid) for line_id, t in zip(order, taps, strict=False)}

    def f(ln: LyricLine) -> LyricLine:
        if ln.id not in stamps:
            return ln
        shift = stamps[ln.id] - (ln.start_s or 0.0)
        return replace(ln, start_s=stamps[ln.id], end_s=None,
                       words=tuple(replace(w, start_s=w.start_s + shift, end_s=None) for w in ln.words))

    return song.with_lyrics(f(ln) for ln in song.lyrics)
