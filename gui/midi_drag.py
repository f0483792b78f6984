"""Dragging the guide's MIDI out of the app: a take from the takes list, or a section from the section lane dragged
out of the window, carries its Standard MIDI File (a file URL) to a DAW or a file manager.

The file is the one ``songbridge export-midi PROJECT --take T [--section S]`` writes, made by the same code
(``engine.song.take_midi``) and in the same place (``renders/midi/<song>_<take>[_<section>].mid`` in the project):
the whole take from 0 s with the song's tempo map, or the section from its first bar (the DAW places it where it is
dropped). A section carries the take the section plays (its accepted take, else the song's, else the newest guide
take). A take without MIDI (only guide takes write one) carries nothing more, and says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QCursor, QDrag

from engine.errors import SongBridgeError


def take_for(song: Any, section: Any | None) -> str | None:
    """The take a section (None: the song) plays: its accepted take, else the song's, else the newest guide take
    (as ``export-midi`` chooses)."""
    chosen = song.accepted.get(section.id if section is not None else "") or song.accepted.get("")
    if chosen:
        return chosen
    guide = [t for t in song.takes if t.backend == "guide"]
    return guide[-1].id if guide else None


def export_path(folder: Path, song: Any, take_id: str, section: Any | None) -> Path:
    """Where ``export-midi`` puts this file: ``renders/midi/<song>_<take>[_<section>].mid``."""
    from daw_bridge.adapters.generic import slug

    name = f"{slug(song.info.title)}_{take_id}" + (f"_{slug(section.name)}" if section is not None else "") + ".mid"
    return Path(folder) / "renders" / "midi" / name


def write_midi(folder: Path, song: Any, take_id: str, section: Any | None = None) -> Path:
    """Write the take's (or the section's) MIDI where ``export-midi`` would, and return the path; an error that
    says why when the take has none."""
    from engine.song.take_midi import save_midi, take_midi

    try:
        take = song.take(take_id)
    except KeyError as exc:
        raise SongBridgeError(str(exc.args[0])) from None
    mid = take_midi(Path(folder) / "takes" / take_id, song, take, section)
    out = export_path(folder, song, take_id, section)
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_midi(mid, out, Path(folder))


def midi_mime(folder: Path, song: Any, take_id: str, section: Any | None = None,
              mime: QMimeData | None = None) -> QMimeData:
    """A copy of ``mime`` (or a new payload) with the MIDI file's URL added to its URLs."""
    path = write_midi(folder, song, take_id, section)
    out = QMimeData()
    for fmt in mime.formats() if mime is not None else ():
        out.setData(fmt, mime.data(fmt))
    out.setUrls([*(mime.urls() if mime is not None else ()), QUrl.fromLocalFile(str(path))])
    return out


def with_take_midi(mime: QMimeData, doc: Any, take_id: str) -> QMimeData:
    """The takes list's drag payload (its audio files) with the take's MIDI file added when it has one."""
    try:
        return midi_mime(doc.folder, doc.song, take_id, None, mime)
    except SongBridgeError:
        return mime  # a take without MIDI drags its audio as before


def left_window(widget: Any, x: float, global_pos: QPoint | None = None) -> bool:
    """The mouse (``global_pos``, else the cursor's) is outside the widget's window, and it is the mouse whose move
    brought ``x`` (the event's x in the widget; a synthetic move leaves the cursor elsewhere): a drag there is meant
    for another program."""
    pos = global_pos if global_pos is not None else QCursor.pos()
    return abs(widget.mapFromGlobal(pos).x() - x) < 2 and not widget.window().frameGeometry().contains(pos)


def section_mime(doc: Any, section_id: str) -> QMimeData:
    """The drag payload of a section: its MIDI file from the take it plays."""
    song = doc.song
    section = song.section(section_id)
    take_id = take_for(song, section)
    if take_id is None:
        raise SongBridgeError("no guide take yet: MIDI comes from the guide (generate with the guide backend)")
    return midi_mime(doc.folder, song, take_id, section)


def drag_section(widget: Any, section_id: str) -> bool:
    """Start dragging the section's MIDI out of ``widget`` (blocks until it is dropped, as a drag does); False
    with the reason in the status line when there is nothing to drag."""
    try:
        mime = section_mime(widget.doc, section_id)
    except (SongBridgeError, KeyError) as exc:
        widget.message.emit(f"No MIDI to drag: {exc.args[0] if exc.args else exc}")
        return False
    drag = QDrag(widget)
    drag.setMimeData(mime)
    drag.exec(Qt.CopyAction)
    return True
