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
from engine.song.model import Section, Song, SongInfo, Take
from engine.song.project import Project
from engine.song.sections import parse_sections, sections_from_lyrics
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
    #: The song's length in seconds when chosen (``--duration``): sections made from the lyrics end there.
    duration_s: float | None = None

    @classmethod
    def from_settings(cls, settings: dict, default_title: str | None = None) -> SongChoices:
        """Choices from a song settings dict (``engine.song.settings_file``), as the CLI and the GUI read it."""
        return cls(title=settings.get("title") or default_title, style=settings.get("style"),
                   bpm=settings.get("bpm"), key=settings.get("key"), meter=settings.get("meter"),
                   sections=settings.get("sections"), bars_per_line=settings.get("bars_per_line", 2.0),
                   duration_s=settings.get("duration"))


def default_title(lyrics: LrcDocument | None, path: str | Path | None) -> str | None:
    """A new song's title when none is chosen: the lyrics' ``[ti:]`` tag, else the file's name in words
    (``neon-rain_v2.lrc`` -> "Neon Rain V2")."""
    tag = (lyrics.meta.get("ti") or "").strip() if lyrics is not None else ""
    if tag:
        return tag[:200]
    if path is None:
        return None
    words = re.sub(r"[\s_-]+", " ", Path(path).stem).strip()
    return " ".join(w[:1].upper() + w[1:] for w in words.split(" ")) if words else None


def lines_past_end(song: Song, duration_s: float) -> str | None:
    """A sentence when sung lines start at or after ``duration_s`` (seconds) and so are never heard."""
    sung = [ln for ln in song.timed_lines() if ln.text.strip()]
    late = [ln for ln in sung if (ln.start_s or 0.0) >= duration_s - 1e-6]
    if not late:
        return None
    first = late[0]
    need = song.duration_s
    text = first.text if len(first.text) <= 40 else first.text[:37] + "..."
    return (f"{len(late)} of {len(sung)} lines start after the song's end ({duration_s:.1f} s) and are not sung, from "
            f"{text!r} at {first.start_s:.1f} s" + (f"; the lyrics need about {need:.0f} s" if need > duration_s
                                                     else ""))


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
            from engine.backends.guide.styles import match_style

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
            if lyrics is not None:
                _compare_with_headers(song, lyrics, notes)
        elif lyrics is not None and not song.sections:
            sections, said = sections_from_lyrics(lyrics, song.tempo, duration_s=choices.duration_s)
            if sections:
                song = song.replace(sections=tuple(sections))
                notes.append(describe_sections(sections, song.tempo, "from the lyrics' headers") +
                             "; give --sections to choose others")
            notes += said
    except ValueError as exc:
        raise SongBridgeError(str(exc)) from None
    if lyrics is not None:
        song = song.with_lyrics(lines_from_lrc(lyrics, song.sections, notes))
        if song.sections:  # lines timed by hand are judged by the rule auto-timing warns by
            from engine.lyrics.g2p import syllable_count
            from engine.lyrics.phrasing import crowded_sections

            notes += crowded_sections([ln for ln in song.lyrics if ln.timed], song.tempo, song.sections,
                                      syllable_count)
    if any(not ln.timed for ln in song.lyrics):
        song = song.with_lyrics(auto_time(song.lyrics, song.tempo, song.sections,
                                          bars_per_line=choices.bars_per_line, warnings=notes))
    return song


def describe_sections(sections: Sequence[Section], tempo: TempoMap, where: str) -> str:
    """``"sections from ...: Intro 4 bars, Verse 1 8, Chorus 1 8"``, one line for the terminal."""
    parts = []
    for i, s in enumerate(sections):
        bars = tempo.seconds_to_bars(s.end_s) - tempo.seconds_to_bars(s.start_s)
        shown = f"{bars:g}" if abs(bars - round(bars)) < 1e-6 else f"{bars:.1f}"
        parts.append(f"{s.name} {shown}" + (" bars" if i == 0 else ""))
    return f"sections {where}: {', '.join(parts)}"


def _compare_with_headers(song: Song, lyrics: LrcDocument, notes: list[str]) -> None:
    """A note where the chosen sections contradict the lyrics' headers (their order, or timed lines that fall
    in another section than their header's); the chosen sections are kept."""
    from engine.lyrics.convert import match_headers, split_header

    wanted, _ = sections_from_lyrics(lyrics, song.tempo)
    if not wanted:
        return
    have = [split_header(s.kind)[0] for s in sorted(song.sections, key=lambda s: s.start_s)]
    it = iter(have)
    headers = [split_header(s.kind)[0] for s in wanted]
    aliases = {"hook": "chorus", "refrain": "chorus", "inst": "instrumental", "end": "outro", "ending": "outro"}
    in_order = all(any(aliases.get(h, h) == aliases.get(k, k) for k in it) for h in headers)
    if not in_order:
        notes.append(f"--sections ({', '.join(s.name for s in song.sections)}) contradict the lyrics' headers "
                     f"({', '.join(s.name for s in wanted)}): the --sections are used")
        return
    blocks = match_headers(lyrics, song.sections)
    by_id = {s.id: s for s in song.sections}
    outside = [ln for ln in lyrics.lines if ln.time_s is not None and ln.text.strip() and blocks.get(ln.block)
               and not (by_id[blocks[ln.block]].start_s - 1e-6 <= ln.time_s < by_id[blocks[ln.block]].end_s)]
    if outside:
        ln = outside[0]
        notes.append(f"--sections contradict the lyrics' timestamps: {len(outside)} timed line(s) fall outside the "
                     f"section their header names (line {ln.source_line}, [{ln.section}] at {ln.time_s:.1f} s, is "
                     f"not in {by_id[blocks[ln.block]].name}); the --sections are used")


def next_take_ids(song: Song, count: int, taken: set[str] | None = None) -> list[str]:
    """``count`` unused take ids; ``taken`` adds ids whose folders exist on disk but are not in the song (a take
    that another program wrote, or one left by a killed job), so they never block a new take."""
    used = {t.id for t in (*song.takes, *song.loops)} | set(taken or ())  # loop clips' ids are taken too
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
    """Render one take into a project no program has open, and record it (a fixture for tests and benchmarks: the
    app, the bridge and the command line make takes through ``engine.session.Session``); ``song.json`` changes only
    after the take is complete on disk."""
    from engine.song.document import save_song

    request.out_dir.parent.mkdir(parents=True, exist_ok=True)
    take = backend.generate(request, on_progress, should_stop)
    project.song = project.song.with_take(take)
    save_song(project.song, project.folder)
    return take


def take_paths(project: Project, take: Take) -> Sequence[Path]:
    d = project.take_dir(take.id)
    return [d / "mix.wav", *(d / "stems" / f"{s}.wav" for s in take.stems)]
