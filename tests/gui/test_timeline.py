"""The desktop app, offscreen: timeline edits and their undo, tap-to-time, regenerate-lines ranges, the drag
payload, and an event loop that stays responsive while a slow job runs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt, QTimer

from engine.song import Grid, LyricLine, Project, Song, TempoMap, section_edits
from engine.song.sections import parse_sections
from gui import editing
from gui.document import DocumentModel
from gui.timeline import LABEL_W, Timeline


def make_project(tmp: Path) -> Project:
    tempo = TempoMap.constant(120)  # beat = 0.5 s
    song = Song(tempo=tempo, sections=parse_sections("verse:8", tempo), lyrics=(
        LyricLine("a", "first line here", 1.0), LyricLine("b", "second line", 4.0),
        LyricLine("c", "third line now", 8.0)))
    return Project.create(tmp / "t", song)


@pytest.fixture
def timeline(qtbot, tmp_path: Path):
    doc = DocumentModel(make_project(tmp_path))
    tl = Timeline(doc)
    tl.resize(1200, 300)
    qtbot.addWidget(tl)
    tl.show()
    qtbot.waitUntil(lambda: getattr(tl, "_fitted", False))
    qtbot.wait(30)  # let the first fit-to-song zoom happen before the test measures positions
    return tl


def center_of(tl: Timeline, line_id: str) -> QPointF:
    line = next(ln for ln in tl.doc.song.lyrics if ln.id == line_id)
    return tl.line_rect(line).center()


def starts(tl: Timeline) -> dict[str, float]:
    return {ln.id: ln.start_s for ln in tl.doc.song.lyrics}


def test_drag_snaps_to_the_grid_and_undoes(qtbot, timeline: Timeline) -> None:
    tl = timeline
    p = center_of(tl, "b")
    qtbot.mousePress(tl, Qt.LeftButton, pos=p.toPoint())
    qtbot.mouseMove(tl, pos=(p + QPointF(tl.px_per_s * 0.7, 0)).toPoint())  # +0.7 s -> 4.7 -> beat 4.5
    qtbot.mouseRelease(tl, Qt.LeftButton, pos=(p + QPointF(tl.px_per_s * 0.7, 0)).toPoint())
    assert starts(tl)["b"] == pytest.approx(4.5)
    assert tl.doc.undo.count() == 1 and tl.doc.undo.undoText() == "Move lines"
    tl.doc.undo.undo()
    assert starts(tl)["b"] == 4.0
    tl.doc.undo.redo()
    assert starts(tl)["b"] == pytest.approx(4.5)


def test_shift_drag_is_free(qtbot, timeline: Timeline) -> None:
    from PySide6.QtGui import QMouseEvent

    tl = timeline
    p = center_of(tl, "c")
    to = p + QPointF(tl.px_per_s * 0.33, 0)
    qtbot.mousePress(tl, Qt.LeftButton, Qt.ShiftModifier, pos=p.toPoint())
    # qtbot.mouseMove cannot carry modifiers: send the Shift-move ourselves
    tl.mouseMoveEvent(QMouseEvent(QMouseEvent.MouseMove, to, to, Qt.NoButton, Qt.LeftButton, Qt.ShiftModifier))
    qtbot.mouseRelease(tl, Qt.LeftButton, Qt.ShiftModifier, pos=to.toPoint())
    assert starts(tl)["c"] == pytest.approx(8.0 + 0.33, abs=1 / tl.px_per_s)


def test_stretch_sets_the_end(qtbot, timeline: Timeline) -> None:
    tl = timeline
    line = next(ln for ln in tl.doc.song.lyrics if ln.id == "a")
    r = tl.line_rect(line)
    edge = QPointF(r.right() - 2, r.center().y())
    target = QPointF(tl.x_of(2.6), r.center().y())
    qtbot.mousePress(tl, Qt.LeftButton, pos=edge.toPoint())
    qtbot.mouseMove(tl, pos=target.toPoint())
    qtbot.mouseRelease(tl, Qt.LeftButton, pos=target.toPoint())
    assert next(ln for ln in tl.doc.song.lyrics if ln.id == "a").end_s == pytest.approx(2.5)


def test_multi_select_and_nudge(qtbot, timeline: Timeline) -> None:
    tl = timeline
    qtbot.mouseClick(tl, Qt.LeftButton, pos=center_of(tl, "a").toPoint())
    qtbot.mouseClick(tl, Qt.LeftButton, Qt.ControlModifier, pos=center_of(tl, "c").toPoint())
    assert tl.selected == {"a", "c"}
    qtbot.keyClick(tl, Qt.Key_Right)
    assert starts(tl) == {"a": 1.5, "b": 4.0, "c": 8.5}
    qtbot.keyClick(tl, Qt.Key_Left, Qt.ShiftModifier)
    assert starts(tl)["a"] == pytest.approx(1.49)
    tl.doc.undo.undo()
    tl.doc.undo.undo()
    assert starts(tl) == {"a": 1.0, "b": 4.0, "c": 8.0}


def test_text_edit_split_merge_are_undoable(timeline: Timeline) -> None:
    doc = timeline.doc
    doc.edit(editing.set_line_text(doc.song, "a", "brand new words"), "Edit lyric")
    assert doc.song.lyrics[0].text == "brand new words"
    doc.edit(editing.split_line(doc.song, "a", 2.0), "Split line")
    assert [ln.text for ln in doc.song.lyrics][:2] == ["brand", "new words"]
    doc.edit(editing.merge_lines(doc.song, [doc.song.lyrics[0].id, doc.song.lyrics[1].id]), "Merge lines")
    assert doc.song.lyrics[0].text == "brand new words" and len(doc.song.lyrics) == 3
    for _ in range(3):
        doc.undo.undo()
    assert doc.song.lyrics[0].text == "first line here"


def test_tap_to_time_is_one_undo_step(timeline: Timeline) -> None:
    tl = timeline
    tl.selected = {"a"}
    for t in (2.1, 5.9, 9.2):
        tl.tap(t, Grid.BEAT)
    assert starts(tl) == {"a": 2.0, "b": 6.0, "c": 9.0}
    assert tl.doc.undo.count() == 1 and tl.doc.undo.undoText() == "Tap to time"
    tl.doc.undo.undo()
    assert starts(tl) == {"a": 1.0, "b": 4.0, "c": 8.0}
    tl.tap(3.33, None)
    tl.finish_taps()
    assert starts(tl)["a"] == pytest.approx(3.33)


def test_drag_payload_carries_rendered_files(tmp_path: Path) -> None:
    from engine.backends.guide.backend import GuideBackend
    from engine.generation import plan_takes, run_take
    from engine.render import RenderSettings, render_take
    from gui.panels import drag_payload

    project = make_project(tmp_path)
    run_take(project, GuideBackend(), plan_takes(project, 1, 1)[0], lambda d, t: None, lambda: False)
    unrendered = drag_payload(project.folder, "take-001")
    assert [u.toLocalFile().split("/")[-1] for u in unrendered.urls()] == [
        "mix.wav", "bass.wav", "drums.wav", "keys.wav", "vocal.wav"]
    render_take(project, "take-001", RenderSettings())
    mime = drag_payload(project.folder, "take-001")
    files = [u.toLocalFile() for u in mime.urls()]
    assert len(files) == 5 and all("/renders/take-001/" in f and f.endswith(".wav") for f in files)
    assert all(u.isLocalFile() for u in mime.urls())
    vocal = drag_payload(project.folder, "take-001", "vocal").urls()
    assert len(vocal) == 1 and vocal[0].toLocalFile().endswith("_vocal.wav")


@pytest.mark.slow
def test_event_loop_stays_responsive_during_a_slow_job(qtbot, tmp_path: Path) -> None:
    from engine.service import EngineService, SleepJob
    from engine.session import Purpose, Session
    from gui.engine_client import EngineClient
    from gui.main_window import MainWindow

    service = EngineService("process").start()
    session = Session(make_project(tmp_path), service)
    engine = EngineClient(session)
    win = MainWindow(session, engine)
    qtbot.addWidget(win)
    win.show()
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(5)
    done = []
    engine.finished.connect(lambda j, e: done.append(j))
    job = session.submit(SleepJob(steps=40, step_s=0.05, label="slow"), Purpose("other", "slow"))
    qtbot.waitUntil(lambda: job in done, timeout=30_000)
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    worst = max(gaps) * 1000
    print(f"largest gap between 5 ms timer ticks while a 2 s job ran: {worst:.1f} ms over {len(gaps)} ticks")
    assert len(gaps) > 100 and worst < 100
    engine.close()
    session.close()
    service.close()


def test_the_timeline_paints_takes_and_lint(qtbot, tmp_path: Path) -> None:
    from engine.backends.guide.backend import GuideBackend
    from engine.generation import plan_takes, run_take
    from gui.peaks import PeakCache

    project = make_project(tmp_path)
    run_take(project, GuideBackend(), plan_takes(project, 1, 1)[0], lambda d, t: None, lambda: False)
    doc = DocumentModel(project)
    peaks = PeakCache(project.folder)
    tl = Timeline(doc, peaks)
    tl.resize(1200, 300)
    qtbot.addWidget(tl)
    tl.show()
    tl.grab()
    qtbot.waitUntil(lambda: "take-001/mix" in peaks.peaks, timeout=20_000)
    assert (project.folder / "cache" / "peaks" / "take-001-mix.npy").exists()  # cached in the project
    tl.lint = {"b": "crowded: too many tokens"}
    img = tl.grab().toImage()
    rect = tl.line_rect(next(ln for ln in doc.song.lyrics if ln.id == "b"))
    warn = img.pixelColor(int(rect.center().x()), int(rect.bottom() - 1))
    assert warn.red() > 200 and warn.blue() < 120  # the lint stripe
    y = tl.take_rows()[0][2] + tl.take_rows()[0][3] // 2
    wave = img.pixelColor(LABEL_W + 200, y)
    assert wave.blue() > 150  # the waveform is drawn


def test_section_edges_snap_to_bars_and_sections_edit(qtbot, timeline: Timeline) -> None:
    tl = timeline
    sec = tl.doc.song.sections[0]  # verse: 0 .. 16 s (8 bars at 2 s)
    y = tl.lane_top("sections") + 10
    qtbot.mousePress(tl, Qt.LeftButton, pos=QPointF(tl.x_of(sec.end_s) - 1, y).toPoint())
    qtbot.mouseMove(tl, pos=QPointF(tl.x_of(13.3), y).toPoint())
    qtbot.mouseRelease(tl, Qt.LeftButton, pos=QPointF(tl.x_of(13.3), y).toPoint())
    assert tl.doc.song.sections[0].end_s == pytest.approx(14.0)  # the nearest bar line
    doc = tl.doc
    doc.edit(section_edits.add_section(doc.song, "chorus", doc.song.tempo.snap(14.2, Grid.BAR)), "Add section")
    assert [(s.name, s.start_s, s.end_s) for s in doc.song.sections] == [("Verse", 0.0, 14.0), ("Chorus", 14.0, 22.0)]
    doc.edit(section_edits.rename_section(doc.song, "chorus", "Hook"), "Rename section")
    doc.edit(section_edits.delete_section(doc.song, "verse"), "Remove section")
    assert [s.name for s in doc.song.sections] == ["Hook"]
    for _ in range(4):
        doc.undo.undo()
    assert [(s.name, s.end_s) for s in doc.song.sections] == [("Verse", 16.0)]


def test_effects_rack_presets_parameters_and_save(qtbot, tmp_path: Path) -> None:
    from engine.audio.fx import load_board
    from gui.effects_rack import EffectsRack

    doc = DocumentModel(make_project(tmp_path))
    rack = EffectsRack(doc)
    qtbot.addWidget(rack)
    rack.rows["vocal"][0].setCurrentText("vocal-clean")
    assert doc.song.effects["vocal"].preset == "vocal-clean"
    rack.set_override("vocal", "3.gain_db", -3.0)
    assert doc.song.effects["vocal"].overrides == {"3.gain_db": -3.0}
    rack.set_override("vocal", "1.ratio", 0.2)  # the Compressor refuses it: nothing changes
    assert dict(doc.song.effects["vocal"].overrides) == {"3.gain_db": -3.0}
    path = rack.save_preset("vocal", "my-vocal", tmp_path / "presets")
    board = load_board(str(path))
    assert board[3].gain_db == -3.0 and board[1].ratio == 3.0
    doc.undo.undo()
    doc.undo.undo()
    assert "vocal" not in doc.song.effects
