"""Dragging the guide's MIDI out of the app, offscreen: a section's payload is a file URL of a readable .mid holding
the section's notes (the file ``export-midi --section`` writes), a take's payload gains the take's .mid beside its
audio; a take without MIDI drags nothing more and says why; a damaged MIDI file is named."""

from __future__ import annotations

from pathlib import Path

import mido
from PySide6.QtCore import QMimeData, QPoint, QUrl

from engine.errors import SongBridgeError
from engine.song.take_midi import take_midi
from gui import midi_drag
from gui.document import DocumentModel
from gui.timeline import Timeline
from tests.daw_bridge.guide_take import guide_project, notes


def test_a_section_drags_its_midi_file(qtbot, tmp_path: Path) -> None:
    project, take = guide_project(tmp_path)
    doc = DocumentModel(project)
    tl = Timeline(doc)
    qtbot.addWidget(tl)
    chorus = next(s for s in doc.song.sections if s.kind == "chorus")

    mime = midi_drag.section_mime(doc, chorus.id)
    urls = mime.urls()
    assert len(urls) == 1 and urls[0].isLocalFile()
    path = Path(urls[0].toLocalFile())
    assert path == project.folder / "renders" / "midi" / f"bridge-song_{take.id}_chorus.mid"  # where export-midi puts it
    mid = mido.MidiFile(str(path))
    want = take_midi(project.take_dir(take.id), doc.song, take, chorus)
    assert notes(mid) == notes(want) and len(notes(mid)) > 10
    assert [m.text for t in mid.tracks for m in t if m.type == "marker"] == [chorus.name]
    assert [m.text for t in mid.tracks for m in t if m.type == "lyrics"]  # the vocal's syllables
    assert min(b for b, _, _ in notes(mid)) < 1.0  # the section starts at its first beat, not at the song's time


def test_a_take_drags_its_audio_and_its_midi(qtbot, tmp_path: Path) -> None:
    project, take = guide_project(tmp_path)
    doc = DocumentModel(project)
    audio = QMimeData()
    audio.setUrls([QUrl.fromLocalFile(str(project.take_dir(take.id) / "mix.wav"))])
    mime = midi_drag.with_take_midi(audio, doc, take.id)
    paths = [Path(u.toLocalFile()) for u in mime.urls()]
    assert paths[0].name == "mix.wav" and paths[1].suffix == ".mid"
    whole = mido.MidiFile(str(paths[1]))
    assert notes(whole) == notes(mido.MidiFile(str(project.take_dir(take.id) / "guide.mid")))
    assert len([m for t in whole.tracks for m in t if m.type == "marker"]) == len(doc.song.sections)

    # a take without MIDI (a neural one) drags its audio as before; a section says why it has nothing to drag
    (project.take_dir(take.id) / "guide.mid").unlink()
    assert [Path(u.toLocalFile()).name for u in midi_drag.with_take_midi(audio, doc, take.id).urls()] == ["mix.wav"]
    tl = Timeline(doc)
    qtbot.addWidget(tl)
    said: list[str] = []
    tl.message.connect(said.append)
    assert midi_drag.drag_section(tl, doc.song.sections[0].id) is False
    assert said and "has no MIDI" in said[0] and "guide.mid" in said[0]


def test_a_damaged_midi_file_is_named(qtbot, tmp_path: Path) -> None:
    project, take = guide_project(tmp_path)
    (project.take_dir(take.id) / "guide.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    doc = DocumentModel(project)
    try:
        midi_drag.section_mime(doc, doc.song.sections[0].id)
    except SongBridgeError as exc:
        assert "guide.mid" in str(exc) and "not a readable MIDI file" in str(exc)
    else:
        raise AssertionError("a damaged guide.mid was dragged")


def test_only_a_real_mouse_outside_the_window_starts_the_drag(qtbot, tmp_path: Path) -> None:
    project, _ = guide_project(tmp_path)
    tl = Timeline(DocumentModel(project))
    qtbot.addWidget(tl)
    tl.resize(800, 300)
    tl.show()
    frame = tl.window().frameGeometry()
    outside = QPoint(frame.right() + 200, frame.top() + 10)
    x_there = tl.mapFromGlobal(outside).x()
    assert midi_drag.left_window(tl, x_there, outside)
    inside = QPoint(frame.left() + 50, frame.top() + 50)
    assert not midi_drag.left_window(tl, tl.mapFromGlobal(inside).x(), inside)
    assert not midi_drag.left_window(tl, x_there + 300, outside)  # the event is not where the mouse is
