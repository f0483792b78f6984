"""Landing a take in the DAW: render its stems (a job in the engine, where the take's files are), then hand the files
to the project's DAW adapter (``adapters.registry``: Ardour, the running Ardour or its closed session; REAPER and Live
through our scripts; generic, stamped files in a folder). A take heard from its copy locked to the DAW's tempo lands
at the DAW's seconds: its section's bars at the DAW's tempo, at the DAW's bar (``daw_lock``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from daw_bridge.adapters.base import MidiParts
from daw_bridge.adapters.generic import slug
from engine.errors import SongBridgeError
from engine.session.purpose import Landing, Purpose
from engine.session.regenerate import find_section


def render_job(session: Any, take: str | None, section_name: str | None, folder: str | None,
               land_folder: Path | None) -> tuple[Any, Purpose]:
    """The render job that lands a take (the section's accepted take, else the song's, else the newest) and what
    to do with its files."""
    from daw_bridge.adapters.registry import check_name
    from engine.render import RenderSettings, comp_settings
    from engine.service import RenderJob

    song = session.song
    check_name(song.daw.adapter)  # before anything renders
    section = find_section(song, section_name) if section_name else None
    from engine.comp import song_take

    fallback = song_take(song) or (song.takes[-1] if song.takes else None)
    take_id = take or (song.accepted.get(section.id) if section else None) or (fallback.id if fallback else None)
    if take_id is None:
        raise SongBridgeError("no take to land yet")
    try:
        t = song.take(take_id)
    except KeyError as exc:
        raise SongBridgeError(str(exc.args[0])) from None
    out = session.project.inside(folder) if folder else (land_folder or linked_folder(song) or
                                                         session.folder / "renders" / "daw")
    if any(lp.id == t.id for lp in song.loops):  # a loop clip lands whole at its bar, on a track of its own
        return _loop_job(session, t, out)
    start, end = (section.start_s, section.end_s) if section else (0.0, t.duration_s)
    bar = round(song.tempo.seconds_to_bars(start), 3)
    comped = None if take or section else comp_settings(song, RenderSettings())  # the whole song as comped
    locked = None if comped else daw_lock(session, t)
    bpm, length = song.tempo.bpm, t.duration_s
    if locked is not None:  # the heard audio is on the DAW's grid: the same bars, at the DAW's seconds
        grid, length = locked
        bpm = grid.bpm
        start, end = ((max(0.0, grid.bars_to_seconds(song.tempo.seconds_to_bars(x))) for x in (start, end))
                      if section else (0.0, length))
    if start >= length:
        raise SongBridgeError(f"{section.name if section else 'the song'} starts at {start:.1f} s, after the end of "
                              f"{t.id} ({length:.1f} s)")
    settings = RenderSettings(range_s=(start, min(end, length)) if section else None)
    if comped is not None:
        t, settings = song.take(comped[0]), comped[1]
    job = RenderJob(session.folder, t.id, settings, label=f"land {'the comp' if comped else t.id}",
                    out_name=f"{t.id}-{section.id}" if section else ("comp" if comped else None))
    landing = Landing(str(out), section.name if section else "song", bar, bpm, start, min(end, length),
                      locked_bpm=bpm if locked is not None else None,
                      comp=tuple(settings.comp) if comped is not None else ())
    label = f"land {'the comp' if comped else t.id}" + (f" (locked to {bpm:g} bpm)" if locked else "")
    return job, Purpose("land", label, take=t.id, landing=landing)


def linked_folder(song: Any) -> Path | None:
    """The folder a generic (or Bitwig) DAW link names for its stamped files (``songbridge daw link generic
    FOLDER``, made when missing), or None. Files are written there under our names only, never through a link
    (``adapters.generic.land_files``)."""
    daw = song.daw
    if daw.adapter not in ("generic", "bitwig") or not daw.render_folder:
        return None
    folder = Path(daw.render_folder).expanduser()
    if not folder.is_absolute() or (folder.exists() and not folder.is_dir()):
        raise SongBridgeError(f"the DAW link's folder {daw.render_folder} is not a folder here: link it again "
                              "(songbridge daw link PROJECT generic FOLDER, or the app's DAW link panel)")
    return folder


def daw_lock(session: Any, take: Any) -> tuple[Any, float] | None:
    """When the take is heard from its grid-locked copy at another tempo than the song's (a take regenerated while
    following a DAW at that tempo, ``job_requests.lock_to_daw``): the grid it is locked to (a constant tempo from
    the song's bar 1, as ``engine.grid.takes.bar_lines``) and the locked copy's length in seconds; else None."""
    from engine.audio.io import SAMPLE_RATE
    from engine.song.tempo import TempoMap

    song = session.song
    lock = take.analysis.get("lock") if take.id in song.locked else None
    if not lock or session.project.audio_dir(take.id).name != "locked":
        return None
    try:
        bpm = float(lock["bpm"])
    except (KeyError, TypeError, ValueError):
        raise SongBridgeError(f"song.json takes[{take.id}].analysis.lock.bpm: expected a tempo, got "
                              f"{lock.get('bpm')!r}") from None
    if not 20.0 <= bpm <= 400.0:
        raise SongBridgeError(f"song.json takes[{take.id}].analysis.lock.bpm: {bpm:g} is not a tempo (20-400)")
    if abs(bpm - song.tempo.bpm) < 1e-6:
        return None  # locked to the song's own grid: its seconds are the song's
    grid = TempoMap.constant(bpm, song.tempo.meter, song.tempo.bar1_s)
    frames = lock.get("frames")
    length = frames / SAMPLE_RATE if isinstance(frames, int) and frames > 0 else \
        grid.bars_to_seconds(song.tempo.seconds_to_bars(take.duration_s))
    return grid, float(length)


def _loop_job(session: Any, t: Any, out: Path) -> tuple[Any, Purpose]:
    from engine.render import RenderSettings
    from engine.service import RenderJob

    song = session.song
    clip = song.loop(t.id)
    bar = clip.bar
    start = song.tempo.bars_to_seconds(bar)
    track = "loop " + " ".join(clip.prompt.split())[:40]  # its own track: "SB loop <prompt>"
    job = RenderJob(session.folder, t.id, RenderSettings(loudness_lufs=None), time_reference_s=start,
                    label=f"land {t.id}", out_name=f"{t.id}-loop")
    landing = Landing(str(out), f"{slug(track)}-{t.id}", bar, float(t.params.get("bpm", song.tempo.bpm)), start,
                      start + t.duration_s, track=track)
    return job, Purpose("land", f"land {t.id}", take=t.id, landing=landing)


def deliver(session: Any, purpose: Purpose, render: dict[str, Any]) -> tuple[str, str]:
    """Put a finished render where the DAW takes it: the project's adapter (``registry.adapter_for``) lands it;
    returns (adapter, what was done)."""
    from daw_bridge.adapters.registry import Link, adapter_for

    song = session.song
    where = _landing(purpose)
    folder, project = Path(where.folder), Path(session.project.folder)
    inside = os.path.abspath(folder).startswith(os.path.abspath(project) + os.sep)
    adapter = adapter_for(Link(song.daw, song.info.title, song.tempo.meter.numerator, folder,
                               project if inside else None))
    result = adapter.land({label: Path(path) for label, path in render["files"].items()},
                          guide_midi(session, purpose), start_s=where.start_s, end_s=where.end_s, bar=where.bar,
                          bpm=where.bpm, section=where.section, take=str(purpose.take), track=where.track)
    return result.adapter, result.describe()


def _landing(purpose: Purpose) -> Landing:
    if purpose.landing is None or not purpose.take:
        raise SongBridgeError(f"{purpose.label or purpose.kind}: not a landing (no take or destination)")
    return purpose.landing


def guide_midi(session: Any, purpose: Purpose) -> MidiParts:
    """The landed take's guide MIDI for the adapter: a loop leaves the MIDI tracks alone, a comp lands none, a take
    without guide MIDI lands none (and says so); notes that cannot be read are an error the stems land beside."""
    where = _landing(purpose)
    if where.track:
        return MidiParts(leave=True)
    if where.comp:
        return MidiParts(missing="audio only: a comp of several takes lands no MIDI (land a section's take for its "
                                 "notes)")
    try:
        mid = landing_midi(session, purpose)
    except SongBridgeError as exc:
        return MidiParts(error=str(exc))
    if mid is None:
        return MidiParts(missing=f"audio only: {purpose.take} has no guide MIDI (a guide take writes one)")
    if where.locked_bpm:  # the audio's bars are the DAW's: so are the notes' (same beats, its tempo)
        import mido

        tempo = mido.bpm2tempo(float(where.locked_bpm))
        for track in mid.tracks:
            for i, msg in enumerate(track):
                if msg.type == "set_tempo":
                    track[i] = msg.copy(tempo=tempo)
    return MidiParts(mid)


def landing_midi(session: Any, purpose: Purpose) -> Any:
    """The landed take's guide MIDI for the landed span (a ``mido.MidiFile``), or None when the take has none (a
    neural take, a loop)."""
    from engine.song.take_midi import MIDI_NAME, take_midi

    where = _landing(purpose)
    song = session.song
    try:
        take = song.take(str(purpose.take))
    except KeyError:
        return None
    take_dir = session.project.take_dir(take.id)
    if where.track or where.comp or not (take_dir / MIDI_NAME).is_file():
        return None
    section = None if where.section == "song" else find_section(song, where.section)
    return take_midi(take_dir, song, take, section)
