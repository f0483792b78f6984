"""Landing a take in the DAW: render its stems (a job in the engine, where the take's files are), then hand the files
to the project's DAW adapter (Ardour: the running Ardour or its closed session, ``adapters.ardour_route``; any other
DAW: stamped files in a folder)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from daw_bridge.adapters.generic import clear_midi, land_files, land_midi, slug
from engine.errors import SongBridgeError


def find_section(song: Any, name: str) -> Any:
    for s in song.sections:
        if name in (s.id, s.name) or name.lower() == s.name.lower():
            return s
    raise SongBridgeError(f"no section {name!r}; sections: " + (", ".join(s.name for s in song.sections) or "none"))


def render_job(session: Any, take: str | None, section_name: str | None, folder: str | None,
               land_folder: Path | None) -> tuple[Any, dict[str, Any]]:
    """The render job that lands a take (the section's accepted take, else the song's, else the newest) and what
    to do with its files."""
    from engine.render import RenderSettings, comp_settings  # noqa: PLC0415
    from engine.service import RenderJob  # noqa: PLC0415

    song = session.song
    section = find_section(song, section_name) if section_name else None
    from engine.comp import song_take  # noqa: PLC0415

    fallback = song_take(song) or (song.takes[-1] if song.takes else None)
    take_id = take or (song.accepted.get(section.id) if section else None) or (fallback.id if fallback else None)
    if take_id is None:
        raise SongBridgeError("no take to land yet")
    try:
        t = song.take(take_id)
    except KeyError as exc:
        raise SongBridgeError(str(exc.args[0])) from None
    out = session.project.inside(folder) if folder else (land_folder or session.folder / "renders" / "daw")
    if any(lp.id == t.id for lp in song.loops):  # a loop clip lands whole at its bar, on a track of its own
        return _loop_job(session, t, out)
    start, end = (section.start_s, section.end_s) if section else (0.0, t.duration_s)
    if start >= t.duration_s:
        raise SongBridgeError(f"{section.name} starts at {start:.1f} s, after the end of {t.id} "
                              f"({t.duration_s:.1f} s)")
    settings = RenderSettings(range_s=(start, min(end, t.duration_s)) if section else None)
    comped = None if take or section else comp_settings(song, settings)  # the whole song as comped (engine.comp)
    if comped is not None:
        t, settings = song.take(comped[0]), comped[1]
    job = RenderJob(session.folder, t.id, settings, label=f"land {'the comp' if comped else t.id}",
                    out_name=f"{t.id}-{section.id}" if section else ("comp" if comped else None))
    purpose = {"kind": "land", "take": t.id, "folder": str(out), "section": section.name if section else "song",
               "bar": round(song.tempo.seconds_to_bars(start), 3), "bpm": song.tempo.bpm, "start_s": start,
               "end_s": min(end, t.duration_s),
               "label": f"land {'the comp' if comped else t.id}"}
    if comped is not None:
        purpose["comp"] = [list(p) for p in settings.comp]
    return job, purpose


def _loop_job(session: Any, t: Any, out: Path) -> tuple[Any, dict[str, Any]]:
    from engine.render import RenderSettings  # noqa: PLC0415
    from engine.service import RenderJob  # noqa: PLC0415

    song = session.song
    clip = song.loop(t.id)
    bar = clip.bar
    start = song.tempo.bars_to_seconds(bar)
    track = "loop " + " ".join(clip.prompt.split())[:40]  # its own track: "SB loop <prompt>"
    job = RenderJob(session.folder, t.id, RenderSettings(loudness_lufs=None), time_reference_s=start,
                    label=f"land {t.id}", out_name=f"{t.id}-loop")
    purpose = {"kind": "land", "take": t.id, "folder": str(out), "section": f"{slug(track)}-{t.id}", "bar": bar,
               "bpm": float(t.params.get("bpm", song.tempo.bpm)), "start_s": start, "end_s": start + t.duration_s,
               "track": track, "label": f"land {t.id}"}
    return job, purpose


def deliver(session: Any, purpose: dict[str, Any], render: dict[str, Any]) -> tuple[str, str]:
    """Put a finished render where the DAW takes it; returns (adapter, what was done)."""
    song = session.song
    daw = song.daw
    if daw.adapter == "ardour" and daw.session:
        from daw_bridge.adapters.ardour_route import land_stems  # noqa: PLC0415

        stems = {f"{daw.track_prefix} {purpose.get('track') or label}".strip(): Path(path)
                 for label, path in render["files"].items() if label != "mix"}
        meter = song.tempo.meter
        with ardour_midi_parts(session, purpose, daw.track_prefix) as (midi, why):
            landing = land_stems(Path(daw.session), stems, purpose["start_s"],
                                 purpose.get("end_s", purpose["start_s"]), f"sb-{slug(purpose['section'])}-",
                                 purpose["take"], song.tempo.bpm, meter.numerator, purpose["bar"],
                                 osc=(daw.host, daw.port), midi=midi)
        return "ardour", landing.describe() + why
    result = land_files(render["files"], Path(purpose["folder"]), song.info.title, purpose["section"],
                        purpose["bar"], purpose["bpm"])
    try:
        mid = landing_midi(session, purpose)
        if mid is None:
            gone = clear_midi(Path(purpose["folder"]), song.info.title, purpose["section"])
            return "generic", result.detail + (f"; the section's old MIDI was removed ({gone})" if gone else "")
        path = land_midi(mid, Path(purpose["folder"]), song.info.title, purpose["section"], purpose["bar"],
                         purpose["bpm"])
    except SongBridgeError as exc:  # the stems are in place; the MIDI is an extra that says why it is missing
        return "generic", f"{result.detail}; no MIDI: {exc}"
    return "generic", f"{result.detail}, and the guide's MIDI ({path.name})"


@contextlib.contextmanager
def ardour_midi_parts(session: Any, purpose: dict[str, Any],
                      prefix: str) -> Iterator[tuple[dict[str, Path] | None, str]]:
    """The landed take's guide MIDI as one file per part for Ardour's ``<prefix> <part> (MIDI)`` tracks (in a
    temporary folder, gone afterwards), and what to add to the landing's detail when there is none (a loop: None,
    its landing leaves the MIDI tracks alone)."""
    from daw_bridge.adapters.ardour_midi import write_parts  # noqa: PLC0415

    if purpose.get("track"):
        yield None, ""
        return
    if purpose.get("comp"):
        yield {}, "; audio only: a comp of several takes lands no MIDI (land a section's take for its notes)"
        return
    try:
        mid = landing_midi(session, purpose)
        why = "" if mid is not None else (f"; audio only: {purpose['take']} has no guide MIDI (a guide take "
                                          "writes one)")
    except SongBridgeError as exc:
        mid, why = None, f"; audio only, no MIDI: {exc}"
    with tempfile.TemporaryDirectory(prefix="songbridge-midi-") as folder:
        parts = write_parts(mid, Path(folder), f"sb-{slug(purpose['section'])}-", purpose["take"], prefix) \
            if mid is not None else {}
        yield parts, why


def landing_midi(session: Any, purpose: dict[str, Any]) -> Any:
    """The landed take's guide MIDI for the landed span (a ``mido.MidiFile``), or None when the take has none (a
    neural take, a loop)."""
    from engine.song.take_midi import MIDI_NAME, take_midi  # noqa: PLC0415

    song = session.song
    try:
        take = song.take(purpose["take"])
    except KeyError:
        return None
    take_dir = session.project.take_dir(take.id)
    if purpose.get("track") or purpose.get("comp") or not (take_dir / MIDI_NAME).is_file():
        return None
    section = None if purpose["section"] == "song" else find_section(song, purpose["section"])
    return take_midi(take_dir, song, take, section)
