"""The takes list's tools, offscreen: split a take into stems, find its beat grid (tempo and drift shown, beats
drawn behind its waveform), lock it to the grid and undo that."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.stems.tiny import create_tiny_separator
from gui.main_window import MainWindow
from tests.engine.session.test_session import make_project


@pytest.fixture
def window(open_window, tmp_path: Path, monkeypatch):
    models = tmp_path / "models"
    create_tiny_separator(models)
    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    return open_window(make_project(tmp_path).folder)


@pytest.mark.slow
def test_split_grid_lock_and_undo_from_the_takes_list(qtbot, window: MainWindow) -> None:
    doc = window.doc
    take = doc.song.takes[-1]
    window.takes.split.emit(take.id, False)
    qtbot.waitUntil(lambda: doc.song.take(take.id).stems == ("drums", "bass", "other", "vocal"), timeout=60_000)
    assert "separation" in doc.song.take(take.id).analysis
    window.takes.grid.emit(take.id)
    qtbot.waitUntil(lambda: "grid" in doc.song.take(take.id).analysis, timeout=60_000)
    qtbot.waitUntil(lambda: "bpm" in window.takes.item(0).text(), timeout=5000)  # the list follows the song
    assert "drift" in window.takes.item(0).text()  # measured tempo and drift in the list
    beats, downs = window.timeline.take_grid(doc.song, take.id)
    assert beats.size > 8 and set(downs) <= set(beats)
    window.takes.lock.emit(take.id)  # the locked copy is made, then heard
    qtbot.waitUntil(lambda: take.id in doc.song.locked, timeout=120_000)
    assert doc.project.audio_dir(take.id).name == "locked"
    qtbot.waitUntil(lambda: window.takes.item(0).text().endswith("· locked"), timeout=5000)
    assert not window.rack.form.isRowVisible(list(window.rack.rows).index("keys"))  # the split take's slots
    assert window.rack.form.isRowVisible(list(window.rack.rows).index("other"))
    assert doc.undo.undoText() == f"Lock {take.id} to the grid"
    doc.undo.undo()
    assert take.id not in doc.song.locked and doc.project.audio_dir(take.id).name == take.id
    assert "lock" in doc.song.take(take.id).analysis  # the files stay: locking again is instant
    window.toggle_lock(take.id)
    assert take.id in doc.song.locked
