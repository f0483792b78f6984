"""``songbridge export-midi``: a guide take as a Standard MIDI File (a track per part, tempo map, section markers)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.errors import SongBridgeError


def run(args: argparse.Namespace) -> int:
    from daw_bridge.adapters.generic import slug
    from engine.session.regenerate import find_section
    from engine.song.project import Project, project_path
    from engine.song.take_midi import save_midi, take_midi

    project = Project.open(project_path(args.project))  # read only: the app or serve may hold the project
    song = project.song
    section = find_section(song, args.section) if args.section else None
    take_id = _take(song, args.take, section)
    take = song.take(take_id)
    mid = take_midi(project.take_dir(take_id), song, take, section)
    if args.output:
        out = Path(args.output)
        if out.suffix.lower() not in (".mid", ".midi"):
            raise SongBridgeError(f"-o {args.output}: a MIDI file name ends in .mid")
        root = None
    else:
        name = f"{slug(song.info.title)}_{take_id}" + (f"_{slug(section.name)}" if section else "") + ".mid"
        root = project.folder
        out = project.folder / "renders" / "midi" / name
    save_midi(mid, out, root)
    print(_summary(mid, take_id, section))
    print(out)
    return 0


def _take(song: Any, take_arg: str | None, section: Any) -> str:
    """--take, else the section's (or the song's) accepted take, else the newest guide take."""
    if take_arg:
        try:
            return song.take(take_arg).id
        except KeyError as exc:
            raise SongBridgeError(f"--take {take_arg}: {exc.args[0]}") from None
    chosen = song.accepted.get(section.id if section else "") or song.accepted.get("")
    if chosen:
        return chosen
    guide = [t for t in song.takes if t.backend == "guide"]
    if not guide:
        raise SongBridgeError("the project has no guide take: MIDI comes from the guide "
                              "(songbridge generate --backend guide)")
    return guide[-1].id


def _summary(mid: Any, take_id: str, section: Any) -> str:
    parts = []
    markers = 0
    for track in mid.tracks:
        name = next((m.name for m in track if m.type == "track_name"), "")
        notes = sum(1 for m in track if m.type == "note_on" and m.velocity > 0)
        lyrics = sum(1 for m in track if m.type == "lyrics")
        markers += sum(1 for m in track if m.type == "marker")
        if notes:
            parts.append(f"{name} {notes} notes" + (f" with {lyrics} lyric syllables" if lyrics else ""))
    tempo = next((m.tempo for m in mid.tracks[0] if m.type == "set_tempo"), 500000) if mid.tracks else 500000
    where = section.name if section else "the whole song"
    return (f"{take_id}, {where}: {'; '.join(parts) or 'no notes'}; {markers} marker(s); "
            f"{60_000_000 / tempo:.2f} bpm")
