"""Loops as clips in the app (issue 26): a song take and two loops. The app opens on the song's backend and style,
the takes list has only the song take, the Loops lane draws each loop at its bar for its length, dragging a clip
moves it by whole bars as one undoable edit, playing the song hears each loop at its bar, and Regenerate selection
edits the song take, never a loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent

from engine.backends.stable_audio.tiny import create_tiny_stable_audio
from engine.comp_source import SongSource, loop_stem
from engine.session.events import JobQueued
from gui.loop_lane import LOOP_H
from gui.main_window import MainWindow
from tests.engine.song.loop_project import STYLE, make_loop_project


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    create_tiny_stable_audio(folder)
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, models: Path) -> Path:
    return make_loop_project(tmp_path_factory.mktemp("template"), models).folder


@pytest.fixture
def window(open_window, tmp_path: Path, models: Path, template: Path, monkeypatch) -> MainWindow:
    import shutil

    monkeypatch.setenv("SONGBRIDGE_MODELS", str(models))
    folder = tmp_path / template.name
    shutil.copytree(template, folder)
    return open_window(folder, (1920, 1080))


def mouse(kind, x: float, y: float) -> QMouseEvent:
    return QMouseEvent(kind, QPointF(x, y), QPointF(x, y), Qt.LeftButton,
                       Qt.NoButton if kind == QMouseEvent.MouseButtonRelease else Qt.LeftButton, Qt.NoModifier)


@pytest.mark.slow
def test_loops_are_drawn_at_their_bars_and_never_become_the_song(qtbot, window: MainWindow) -> None:
    song, tl = window.doc.song, window.timeline
    assert song.style.prompt == STYLE and [t.id for t in song.takes] == ["take-001"]
    assert window.generation.backend.currentText() == "guide"  # the song's backend, not stable-audio-small
    assert window.takes.count() == 1
    items = tl.loop_items()
    assert [(i.loop_id, i.bar, i.bars) for i in items] == [("take-002", 3.0, 2.0), ("take-003", 9.0, 1.0)]
    for item, lp in zip(items, song.loops, strict=True):
        start = song.tempo.bars_to_seconds(lp.bar)
        assert item.start_s == pytest.approx(start) and item.rect.left() == pytest.approx(tl.x_of(start))
        assert item.end_s == pytest.approx(song.tempo.bars_to_seconds(lp.bar + lp.bars), abs=1e-3)
        assert item.rect.width() == pytest.approx((item.end_s - item.start_s) * tl.px_per_s - 1)
        assert tl.loop_at(item.rect.center().x(), item.rect.center().y()).loop_id == lp.id
    top = tl.lane_top("loops")
    assert items[0].rect.top() == top + 2 and tl.lane_top("takes") == top + LOOP_H
    assert tl.take_rows()[0][2] == top + LOOP_H  # the take lanes start below the Loops lane
    image = tl.grab().toImage()
    c = items[1].rect.center()
    assert image.pixelColor(int(c.x()), int(items[1].rect.top()) + 1).green() > 80  # a clip is painted there


def test_dragging_a_loop_moves_it_by_whole_bars_and_undo_puts_it_back(qtbot, window: MainWindow) -> None:
    tl = window.timeline
    item = tl.loop_items()[0]
    bar_px = window.doc.song.tempo.bars_to_seconds(2) * tl.px_per_s  # a bar at 120 bpm: 2 s
    x, y = item.rect.left() + 5, item.rect.center().y()
    tl.mousePressEvent(mouse(QMouseEvent.MouseButtonPress, x, y))
    tl.mouseMoveEvent(mouse(QMouseEvent.MouseMove, x + 2.4 * bar_px, y))  # 2.4 bars: snaps to 2
    assert tl.song.loop("take-002").bar == 5 and window.doc.song.loop("take-002").bar == 3  # a preview until release
    tl.mouseReleaseEvent(mouse(QMouseEvent.MouseButtonRelease, x + 2.4 * bar_px, y))
    assert window.doc.song.loop("take-002").bar == 5 and window.doc.undo.undoText() == "Move loop"
    assert tl.loop_items()[0].rect.left() == pytest.approx(tl.x_of(window.doc.song.tempo.bars_to_seconds(5)))
    window.doc.undo.undo()
    assert window.doc.song.loop("take-002").bar == 3
    window.doc.undo.redo()
    assert window.doc.song.loop("take-002").bar == 5
    assert window.doc.song.takes[0].id == "take-001" and window.doc.song.style.prompt == STYLE


def test_playing_the_song_hears_each_loop_at_its_bar(window: MainWindow) -> None:
    import soundfile as sf

    project = window.doc.project
    song = project.song
    source = SongSource(project, song)  # what Space gives the player (gui.loop_audition)
    assert source.stems[: len(song.takes[0].stems)] == list(song.takes[0].stems)
    for lp in song.loops:
        audio = source.read_stem(loop_stem(lp), 0, source.length)
        start = round(song.tempo.bars_to_seconds(lp.bar) * 44100)
        first = int(np.argmax(np.abs(audio).max(axis=1) > 1e-4))
        assert not np.abs(audio[:start]).any() and start <= first < start + 4410
        ref = sf.read(project.audio_dir(lp.id) / "mix.wav", dtype="float32", always_2d=True)[0]
        assert np.abs(audio[start:start + len(ref)] - ref).max() < 1e-6  # the loop itself
    source.close()
    window.timeline.move_loop("take-003", 12)
    source = SongSource(project, project.song)
    audio = source.read_stem(loop_stem(project.song.loop("take-003")), 0, source.length)
    assert not np.abs(audio[: round(project.song.tempo.bars_to_seconds(12) * 44100)]).any()
    assert np.abs(audio).max() > 1e-3
    source.close()
    assert not (project.cache_dir / "audition").exists()  # nothing padded on disk


def test_regenerate_selection_edits_the_song_take_never_a_loop(qtbot, window: MainWindow) -> None:
    queued: list[JobQueued] = []
    window.doc.session.subscribe(lambda ev: queued.append(ev) if isinstance(ev, JobQueued) else None)
    job = window.generate({"backend": "guide", "style": STYLE, "seed": 5, "takes": 1, "params": {}}, (4.0, 8.0))
    assert job is not None
    assert queued[-1].purpose.base_take == "take-001"
    qtbot.waitUntil(lambda: len(window.doc.song.takes) == 2, timeout=60_000)
    assert [lp.id for lp in window.doc.song.loops] == ["take-002", "take-003"]
    assert window.doc.song.style.prompt == STYLE


def test_a_clip_says_what_it_is_and_its_menu_moves_plays_and_lands(qtbot, window: MainWindow) -> None:
    tl = window.timeline
    item = tl.loop_items()[1]
    tip = tl.loop_tip(item)
    assert tip.startswith("dusty drum loop\ntake-003: bar 9, 1 bars at 120 bpm · stable-audio-small, seed 4")
    tl.locate(window.doc.song.tempo.bars_to_seconds(13) + 0.3)  # the play head in bar 13
    menu = tl.loop_menu(item)
    texts = [a.text() for a in menu.actions()]
    assert texts == ["Play from bar 9", "Move to the play head (bar 13)", "Land in DAW (its own track, at its bar)",
                     "Land every loop in DAW"]
    menu.actions()[1].trigger()
    assert window.doc.song.loop("take-003").bar == 13 and window.doc.undo.undoText() == "Move loop"
    menu.actions()[2].trigger()  # this window hosts no bridge: it says so, nothing is queued
    assert "the DAW bridge is off" in window.statusBar().currentMessage()
    menu.actions()[0].trigger()  # no audio device here: the play head still goes to the loop's bar
    assert tl.playhead_s == pytest.approx(window.doc.song.tempo.bars_to_seconds(13))
