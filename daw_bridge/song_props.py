"""Song and transport properties as the bridge reads and sets them: pure functions of the song (and the DAW's
transport), so the OSC thread can answer reads from the session's immutable song without waiting for anyone."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from daw_bridge.osc.replies import Samples
from engine.errors import LyricsError, SongBridgeError


class TooLarge(SongBridgeError):
    """A value larger than the bridge takes (answered ``too_large``; nothing changes)."""


MAX_LYRICS = 48_000  # characters of lyrics set over OSC (the bridge also checks that get/lyrics still fits a reply)
MAX_LYRIC_LINES = 1_000  # lines of lyrics set over OSC: counted before anything is parsed
#: How an edit from the DAW is named in the app's undo history.
LABELS = {"title": "title", "tempo": "tempo", "time_signature": "time signature", "key": "key", "style": "style",
          "style_preset": "saved style",
          "sections": "sections", "lyrics": "lyrics"}


def song_value(song: Any, prop: str) -> tuple[Any, ...]:
    if prop == "title":
        return (song.info.title,)
    if prop == "tempo":
        return (float(song.tempo.bpm),)
    if prop == "time_signature":
        return (str(song.tempo.meter),)
    if prop == "key":
        return (str(song.key),)
    if prop == "style":
        return (song.style.prompt,)
    if prop == "style_preset":
        return (song.style.preset or "",)
    if prop == "length":
        return (float(song.duration_s),)
    if prop == "sections":
        tm = song.tempo
        return (json.dumps([{"id": s.id, "name": s.name, "start_s": s.start_s, "end_s": s.end_s,
                             "start_bar": round(tm.seconds_to_bars(s.start_s), 4),
                             "end_bar": round(tm.seconds_to_bars(s.end_s), 4)} for s in song.sections]),)
    if prop == "lyrics":
        from engine.lyrics import format as format_lrc
        from engine.lyrics import lrc_from_lines

        return (format_lrc(lrc_from_lines(song.lyrics, song.sections)),)
    if prop == "takes":
        return (json.dumps([{"id": t.id, "backend": t.backend, "seed": t.seed, "parent": t.parent,
                             "accepted_for": sorted(k or "song" for k, v in song.accepted.items() if v == t.id)}
                            for t in song.takes]),)
    raise SongBridgeError(f"no property song.{prop}")


def transport_value(song: Any, prop: str, bpm: float, playing: bool, follow: bool, seconds: float) -> tuple[Any, ...]:
    if prop == "tempo":
        return (float(bpm),)
    if prop == "is_playing":
        return (int(playing),)
    if prop == "follow":
        return (int(follow),)
    beats = song.tempo.seconds_to_quarters(seconds)
    return (Samples(round(seconds * 44100)), float(seconds), float(beats), str(song.tempo.seconds_to_bbt(seconds)))


def song_with(song: Any, prop: str, value: Any) -> Any:
    """``song`` with one property set from the DAW; every check happens here, before anything changes."""
    from engine.song import Key, TempoMap, TimeSignature
    from engine.song.model import SongInfo, Style

    try:
        if prop == "title":
            return song.replace(info=SongInfo(value, song.info.artist))
        if prop == "tempo":
            return retempo(song, TempoMap.constant(value, song.tempo.meter, song.tempo.bar1_s))
        if prop == "time_signature":
            return song.replace(tempo=TempoMap.constant(song.tempo.bpm, TimeSignature.parse(value),
                                                        song.tempo.bar1_s))
        if prop == "key":
            return song.replace(key=Key.parse(value))
        if prop == "style":
            return song.replace(style=Style(value, song.style.preset, song.style.reference_audio))
        if prop == "style_preset":
            return song.replace(style=replace(song.style, preset=preset_name(value)))
        if prop == "sections":
            from engine.song.sections import parse_sections

            secs = parse_sections(value, song.tempo)
            ids = {s.id for s in secs}
            return song.replace(sections=secs, accepted={k: v for k, v in song.accepted.items() if not k or k in ids},
                                lyrics=tuple(ln if ln.section_id in ids or ln.section_id is None
                                             else replace(ln, section_id=None) for ln in song.lyrics))
        if prop == "lyrics":
            from engine.lyrics import auto_time, lines_from_lrc, parse

            if len(value) > MAX_LYRICS:
                raise TooLarge(f"lyrics: {len(value):,} characters; at most {MAX_LYRICS:,} over OSC, so "
                                      "that /songbridge/song/get/lyrics still fits a datagram")
            # As the LRC parser counts them (splitlines), but a flood of newlines is refused before a list is made.
            count = value.count("\n")
            if count <= MAX_LYRIC_LINES:
                count = len(value.splitlines())
            if count > MAX_LYRIC_LINES:
                raise TooLarge(f"lyrics: {count:,} lines; at most {MAX_LYRIC_LINES:,} over OSC")
            lines = lines_from_lrc(parse(value, "OSC lyrics"), song.sections)
            return song.with_lyrics(auto_time(lines, song.tempo, song.sections))
    except (ValueError, LyricsError) as exc:
        raise SongBridgeError(f"{prop}: {exc}") from None
    raise SongBridgeError(f"song.{prop} cannot be set")


def preset_name(value: str) -> str | None:
    """A saved style's name as the DAW gave it ("" clears), checked against the presets on this machine."""
    if not value:
        return None
    from engine.style.presets import find

    return find(value).name


def retempo(song: Any, tempo: Any) -> Any:
    """The song at a new tempo with its sections and lyrics kept on the same bars and beats."""
    old = song.tempo

    def move(t: float | None) -> float | None:
        return None if t is None else max(0.0, tempo.quarters_to_seconds(old.seconds_to_quarters(t)))

    sections = tuple(replace(s, start_s=move(s.start_s), end_s=move(s.end_s)) for s in song.sections)
    lyrics = tuple(replace(ln, start_s=move(ln.start_s), end_s=move(ln.end_s),
                           words=tuple(replace(w, start_s=move(w.start_s), end_s=move(w.end_s)) for w in ln.words))
                   for ln in song.lyrics)
    return song.replace(tempo=tempo, sections=sections, lyrics=lyrics)
