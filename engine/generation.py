"""From a project and a few choices to rendered takes: the one pipeline the CLI (and later the service) uses.

``prepare_song`` applies the user's choices (tempo, key, sections, style, lyrics) to the song document and times
untimed lines; ``plan_takes`` turns the song into one :class:`GenerationRequest` per take; ``run_take`` renders
one and records it in the project, saving ``song.json`` atomically only after the take's files are complete.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from engine.backends.base import Backend, EditSpec, GenerationRequest, ProgressFn, StopFn
from engine.errors import SongBridgeError
from engine.lyrics import auto_time, lines_from_lrc
from engine.lyrics.lrc import LrcDocument
from engine.lyrics.tempo_guess import fits_tempo, guess_tempo
from engine.song.key import Key
from engine.song.model import Song, SongInfo, Take
from engine.song.project import Project
from engine.song.sections import parse_sections
from engine.song.settings_file import RANGES
from engine.song.tempo import TempoMap, TimeSignature


@dataclass(frozen=True)
class SongChoices:
    """What the user asked for; None keeps the project's current value (or the style's default tempo)."""

    title: str | None = None
    style: str | None = None
    bpm: float | None = None
    key: str | None = None
    meter: str | None = None
    sections: str | None = None
    bars_per_line: float = 2.0

    @classmethod
    def from_settings(cls, settings: dict, default_title: str | None = None) -> SongChoices:
        """Choices from a song settings dict (``engine.song.settings_file``), as the CLI and the GUI read it."""
        return cls(title=settings.get("title") or default_title, style=settings.get("style"),
                   bpm=settings.get("bpm"), key=settings.get("key"), meter=settings.get("meter"),
                   sections=settings.get("sections"), bars_per_line=settings.get("bars_per_line", 2.0))


def _stamps(lyrics: LrcDocument | None) -> list[float]:
    return [ln.time_s for ln in (lyrics.lines if lyrics else []) if ln.time_s is not None]


def prepare_song(song: Song, lyrics: LrcDocument | None, choices: SongChoices, *, first_time: bool,
                 notes: list[str] | None = None) -> Song:
    """Apply choices and lyrics to ``song``; untimed lines get times on bar lines.

    A new song without a chosen tempo takes the tempo its timed lyrics were written at, when their stamps show one
    (else the style's); a chosen tempo that the stamps contradict is kept, with a warning. Warnings and such
    decisions are appended to ``notes``, one sentence each.
    """
    notes = notes if notes is not None else []
    stamps = _stamps(lyrics)
    try:
        if choices.title:
            song = song.replace(info=SongInfo(choices.title, song.info.artist))
        if choices.style is not None:
            song = song.replace(style=replace(song.style, prompt=choices.style))
        bpm, bar1 = choices.bpm, song.tempo.bar1_s
        lo, hi = RANGES["bpm"]
        if bpm is not None and not lo <= bpm <= hi:
            raise ValueError(f"--bpm must be {lo:g}..{hi:g}, got {bpm:g}")
        meter = TimeSignature.parse(choices.meter) if choices.meter else song.tempo.meter
        if bpm is None and first_time:
            from engine.backends.guide.styles import match_style  # noqa: PLC0415

            style_bpm = match_style(song.style.prompt).bpm
            guess = guess_tempo(stamps, prior_bpm=style_bpm, beats_per_bar=meter.numerator)
            if guess is not None:
                bpm, bar1 = guess.bpm, guess.offset_s
                notes.append(f"tempo {bpm:g} bpm, read off the lyrics' timestamps ({guess.lines} lines sit on its "
                             f"grid; the style would suggest {style_bpm:g}); give --bpm to choose another")
            else:
                bpm = style_bpm
        elif stamps:
            chosen = bpm if bpm is not None else song.tempo.bpm
            if not fits_tempo(stamps, chosen):
                guess = guess_tempo(stamps, prior_bpm=chosen, beats_per_bar=meter.numerator)
                if guess is not None:
                    what = f"--bpm {chosen:g}" if bpm is not None else f"the song's tempo ({chosen:g} bpm)"
                    notes.append(f"the lyrics' timestamps sit on a {guess.bpm:g} bpm grid, not on {what}: the "
                                 f"lines keep their times but miss the song's bars (give --bpm {guess.bpm:g} to "
                                 "follow them)")
        if bpm is not None or choices.meter:
            song = song.replace(tempo=TempoMap.constant(bpm or song.tempo.bpm, meter, bar1))
        if choices.key:
            song = song.replace(key=Key.parse(choices.key))
        if choices.sections:
            song = song.replace(sections=parse_sections(choices.sections, song.tempo))
    except ValueError as exc:
        raise SongBridgeError(str(exc)) from None
    if lyrics is not None:
        song = song.with_lyrics(lines_from_lrc(lyrics, song.sections, notes))
    if any(not ln.timed for ln in song.lyrics):
        song = song.with_lyrics(auto_time(song.lyrics, song.tempo, song.sections,
                                          bars_per_line=choices.bars_per_line, warnings=notes))
    return song


def next_take_ids(song: Song, count: int, taken: set[str] | None = None) -> list[str]:
    """``count`` unused take ids; ``taken`` adds ids whose folders exist on disk but are not in the song (a take
    that another program wrote, or one left by a killed job), so they never block a new take."""
    used = {t.id for t in song.takes} | set(taken or ())
    nums = [int(m.group(1)) for t in used if (m := re.fullmatch(r"take-(\d+)", t))]
    n = max(nums, default=0)
    out = []
    while len(out) < count:
        n += 1
        if f"take-{n:03d}" not in used:
            out.append(f"take-{n:03d}")
    return out


def song_duration(song: Song, duration_s: float | None) -> float:
    if duration_s is not None:
        if duration_s <= 0:
            raise SongBridgeError(f"--duration must be positive, got {duration_s}")
        return duration_s
    d = song.duration_s
    if d <= 0:
        raise SongBridgeError("the song has no sections and no timed lyrics, so its length is unknown; "
                              "give --duration or --sections")
    return d


def taken_on_disk(project: Project) -> set[str]:
    takes_dir = project.folder / "takes"
    return {p.name for p in takes_dir.iterdir()} if takes_dir.is_dir() else set()


def plan_takes(project: Project, count: int, seed: int, *, duration_s: float | None = None,
               params: dict | None = None, edit: EditSpec | None = None,
               pending: str | None = None) -> list[GenerationRequest]:
    """One request per take. With ``pending`` (a job's tag) the takes render into ``takes/.pending-TAG-N`` and get
    their ids when the session commits them, so requests queued back to back never compete for an id."""
    song = project.song
    duration = song_duration(song, duration_s)
    if pending is not None:
        ids = [f"pending-{pending}-{i + 1}" for i in range(count)]
    else:
        ids = next_take_ids(song, count, taken_on_disk(project))
    try:
        return [
            GenerationRequest(
                take_id=tid, out_dir=project.folder / "takes" / f".{tid}" if pending is not None
                else project.take_dir(tid), lyrics=tuple(song.timed_lines()),
                style=song.style, duration_s=duration, seed=(seed + i) % 2**32, tempo=song.tempo, key=song.key,
                sections=song.sections, params=dict(params or {}), edit=edit, title=song.info.title,
                name=f"Take {tid.split('-')[-1].lstrip('0')}",
            )
            for i, tid in enumerate(ids)
        ]
    except ValueError as exc:
        raise SongBridgeError(str(exc)) from None


def run_take(project: Project, backend: Backend, request: GenerationRequest, on_progress: ProgressFn,
             should_stop: StopFn) -> Take:
    """Render one take and record it; the project file changes only after the take is complete on disk."""
    request.out_dir.parent.mkdir(parents=True, exist_ok=True)
    take = backend.generate(request, on_progress, should_stop)
    project.song = project.song.with_take(take)
    project.save()
    return take


def take_paths(project: Project, take: Take) -> Sequence[Path]:
    d = project.take_dir(take.id)
    return [d / "mix.wav", *(d / "stems" / f"{s}.wav" for s in take.stems)]
