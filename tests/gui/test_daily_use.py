"""The app as a daily tool, offscreen: seeds that never repeat a take, actions that need a selection, takes that
keep their place, redo by its shortcut, jobs that show their ETA and answer Cancel, the transport readout,
locate by a click in the ruler, and the view following the play head."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from engine.service import EngineService
from engine.session import Session
from engine.song.tempo import Grid
from gui.engine_client import EngineClient
from gui.main_window import MainWindow
from gui.timeline import LABEL_W, RULER_H
from tests.engine.session.test_session import make_project


@pytest.fixture
def window(qtbot, tmp_path: Path):
    engine = EngineService("thread").start()
    session = Session.open(make_project(tmp_path).folder, engine, "test")
    client = EngineClient(session)
    win = MainWindow(session, client)
    qtbot.addWidget(win)
    win.resize(1600, 900)
    win.show()
    qtbot.waitUntil(lambda: getattr(win.timeline, "_fitted", False))
    qtbot.wait(30)
    yield win
    client.close()
    session.close()
    engine.close()


def add_takes(win: MainWindow, seeds: list[int]) -> None:
    song = win.doc.song
    base = song.takes[0]
    for i, seed in enumerate(seeds):
        song = song.with_take(dataclasses.replace(base, id=f"take-{i + 2:03d}", seed=seed, name=""))
    win.doc.edit(song, "takes")


def test_the_seed_goes_on_after_the_projects_takes_and_advances_unless_locked(window: MainWindow) -> None:
    from gui.panels import GenerationPanel, next_seed

    add_takes(window, [900, 901])
    panel = GenerationPanel(window.doc)  # as a reopened project shows it
    assert panel.seed.value() == next_seed(window.doc.song) == 902
    assert panel.seed.value() not in {t.seed for t in window.doc.song.takes}
    panel.takes.setValue(2)
    assert panel.options()["seed"] == 902 and panel.seed.value() == 904
    panel.lock_seed.setChecked(True)
    assert panel.options()["seed"] == 904 and panel.seed.value() == 904


def test_regenerate_selection_and_lines_need_a_selection(qtbot, window: MainWindow) -> None:
    gen, tl = window.generation, window.timeline
    assert gen.btn_song.isEnabled()
    assert not gen.btn_sel.isEnabled() and not gen.btn_lines.isEnabled()
    y = RULER_H // 2
    QTest.mousePress(tl, Qt.LeftButton, Qt.NoModifier, QPoint(int(tl.x_of(1.0)), y))
    QTest.mouseMove(tl, QPoint(int(tl.x_of(3.0)), y))
    QTest.mouseRelease(tl, Qt.LeftButton, Qt.NoModifier, QPoint(int(tl.x_of(3.0)), y))
    assert tl.range is not None and gen.btn_sel.isEnabled()
    QTest.mouseClick(tl, Qt.LeftButton, Qt.NoModifier, QPoint(int(tl.x_of(5.0)), y))  # a click clears it
    assert tl.range is None and not gen.btn_sel.isEnabled()
    line = window.doc.song.lyrics[0]
    r = tl.line_rect(line)
    QTest.mouseClick(tl, Qt.LeftButton, Qt.NoModifier, r.center().toPoint())
    assert tl.selected == {line.id} and gen.btn_lines.isEnabled()


def test_renaming_or_starring_a_take_keeps_its_place(window: MainWindow) -> None:
    add_takes(window, [5])
    order = [t.id for t in window.doc.song.takes]
    first = window.takes.item(window.takes.count() - 1)  # the list shows the newest first
    assert first.data(Qt.UserRole) == "take-001"
    first.setText("keeper")
    window.takes.star("take-001")
    assert [t.id for t in window.doc.song.takes] == order
    assert window.doc.song.takes[-1].id == "take-002"  # still the newest: what Space plays, what Regenerate edits
    assert window.doc.song.take("take-001").name == "keeper" and window.doc.song.take("take-001").starred
    assert window.takes.item(0).data(Qt.UserRole) == "take-002"


def test_redo_by_its_shortcut(qtbot, window: MainWindow) -> None:
    before = window.doc.song.tempo.bpm
    window.doc.edit(window.doc.song.replace(tempo=window.doc.song.tempo.__class__.constant(100)), "Set tempo")
    window.activateWindow()
    window.timeline.setFocus()
    QTest.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    assert window.doc.song.tempo.bpm == before
    QTest.keyClick(window, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert window.doc.song.tempo.bpm == 100
    QTest.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    QTest.keyClick(window, Qt.Key_Y, Qt.ControlModifier)
    assert window.doc.song.tempo.bpm == 100


def test_a_job_shows_elapsed_time_and_eta_and_cancel_answers_at_once(qtbot, window: MainWindow) -> None:
    from PySide6.QtWidgets import QPushButton

    jobs = window.jobs
    cancelled: list[str] = []
    jobs.cancel.connect(cancelled.append)
    jobs.add("job-1", "song")
    jobs.progress("job-1", 5, 10, 72.0)
    widget, bar = jobs.rows["job-1"]
    assert "step 5/10" in bar.format() and "elapsed" in bar.format() and "about 1:12 left" in bar.format()
    button = widget.findChild(QPushButton)
    QTest.mouseClick(button, Qt.LeftButton)
    assert cancelled == ["job-1"] and not button.isEnabled() and button.text() == "Cancelling…"
    assert "cancelling" in bar.format()
    jobs.progress("job-1", 6, 10, 60.0)
    assert "cancelling" in bar.format()  # progress does not hide that it is being cancelled


def test_a_click_in_the_ruler_locates_on_the_grid_and_the_readout_follows(qtbot, window: MainWindow) -> None:
    tl = window.timeline
    tl.grid = Grid.BAR
    located: list[float] = []
    tl.located.connect(located.append)
    x = int(tl.x_of(4.3))  # 120 bpm 4/4: bars every 2 s, so bar 3 starts at 4.0 s
    QTest.mouseClick(tl, Qt.LeftButton, Qt.NoModifier, QPoint(x, RULER_H // 2))
    assert located == [pytest.approx(4.0)] and tl.playhead_s == pytest.approx(4.0)
    window.transport.refresh()
    assert window.transport.position.text().startswith("3|1|0") and "00:04.000" in window.transport.position.text()
    assert "120 bpm" in window.transport.song_facts.text() and "4/4" in window.transport.song_facts.text()
    QTest.mouseClick(tl, Qt.LeftButton, Qt.ShiftModifier, QPoint(x, RULER_H // 2))  # Shift: off the grid
    assert tl.playhead_s == pytest.approx(tl.t_of(x), abs=0.05) and tl.playhead_s != pytest.approx(4.0)
    window.return_to_start()
    assert tl.playhead_s == 0.0


class FakePlayer:
    """Only what the timeline reads from a player: its position and whether it plays."""

    def __init__(self) -> None:
        self.position_s = 0.0
        self.state = "playing"

    def seek(self, t: float) -> None:
        self.position_s = t


def test_the_view_follows_the_play_head_unless_told_not_to(qtbot, window: MainWindow) -> None:
    tl = window.timeline
    tl.player = FakePlayer()
    tl.px_per_s = 100.0
    tl.scroll_s = 0.0
    visible = (tl.width() - LABEL_W) / tl.px_per_s
    tl.player.position_s = visible * 1.5
    tl._follow_player()
    assert tl.scroll_s <= tl.playhead_s <= tl.scroll_s + visible  # scrolled to keep it in sight
    window.transport.follow.setChecked(False)
    tl.scroll_s = 0.0
    tl.player.position_s = visible * 2.5
    tl._follow_player()
    assert tl.scroll_s == 0.0 and tl.playhead_s == pytest.approx(visible * 2.5)


def test_closing_with_a_job_running_asks_and_cancel_keeps_the_window(qtbot, window: MainWindow,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.service import SleepJob
    from engine.session import Purpose

    asked: list[int] = []
    answer = [False]
    monkeypatch.setattr(window, "confirm_quit", lambda n: asked.append(n) or answer[0])
    job = window.doc.session.submit(SleepJob(steps=200, step_s=0.05, label="slow"), Purpose("other", "slow"))
    qtbot.waitUntil(lambda: any(j.id == job and j.state == "running" for j in window.engine.service.jobs()))
    assert not window.close()  # the producer said Cancel: still open, the job goes on
    assert asked == [1] and window.isVisible()
    answer[0] = True
    assert window.close()
    qtbot.waitUntil(lambda: any(j.id == job and j.state == "cancelled" for j in window.engine.service.jobs()),
                    timeout=10_000)


def test_a_render_says_where_its_files_are(qtbot, window: MainWindow) -> None:
    done: list[str] = []
    window.engine.finished.connect(lambda j, e: done.append(j))
    job = window.render_take("take-001")
    qtbot.waitUntil(lambda: job in done, timeout=60_000)
    folder = window.doc.folder / "renders" / "take-001"
    assert str(folder) in window.jobs.labels[job] and window.last_render == folder
    assert str(folder) in window.statusBar().currentMessage()


def test_the_shortcut_sheet_lists_every_menu_action_with_its_keys(window: MainWindow) -> None:
    sheet = window.shortcut_sheet()
    for text in ("Undo", "Redo", "Ctrl+Shift+Z", "Play/Pause", "Space", "Zoom to fit the song", "Ctrl+0",
                 "Save As", "Quit", "Keyboard shortcuts", "F1", "click in the ruler"):
        assert text in sheet, text
    for menu in ("File", "Edit", "Transport", "View", "Help"):
        assert f"<b>{menu}</b>" in sheet


def test_a_line_without_an_end_covers_its_sung_extent_not_the_gap_after_it(window: MainWindow) -> None:
    from engine.song import LyricLine

    song = window.doc.song
    window.doc.edit(song.with_lyrics((LyricLine("a", "one two", 1.0), LyricLine("b", "three", 20.0))), "lines")
    ends = window.timeline.line_ends()
    assert 1.0 < ends["a"] < 3.0  # about how long "one two" takes to sing, not up to 20 s
    assert ends["b"] > 20.0
    window.doc.edit(window.doc.song.with_lyrics((LyricLine("a", "a very long line of many words", 1.0),
                                                 LyricLine("b", "next", 2.0))), "lines")
    assert window.timeline.line_ends()["a"] == 2.0  # never past the next line's start


def test_the_window_layout_is_remembered(qtbot, window: MainWindow) -> None:
    from PySide6.QtWidgets import QDockWidget

    def dock(win: MainWindow, name: str) -> QDockWidget:
        return next(d for d in win.findChildren(QDockWidget) if d.objectName() == name)

    assert dock(window, "DAW link").isVisible()
    dock(window, "DAW link").hide()
    takes = dock(window, "Takes")
    window.addDockWidget(Qt.LeftDockWidgetArea, takes)  # moved from the right to the left
    takes.show()
    window._save_layout()
    again = MainWindow(window.doc.session, window.engine)
    qtbot.addWidget(again)
    again.show()
    assert not dock(again, "DAW link").isVisible()  # closed as the producer left it
    assert again.dockWidgetArea(dock(again, "Takes")) == Qt.LeftDockWidgetArea  # moved, and still there


def test_a_long_song_fits_whole_its_lines_stay_apart_and_scrolling_stops_at_its_end(qtbot, tmp_path: Path) -> None:
    from PySide6.QtGui import QKeyEvent

    from engine.song import LyricLine, Project, Song, TempoMap
    from engine.song.sections import parse_sections
    from gui.document import DocumentModel
    from gui.timeline import Timeline

    tempo = TempoMap.constant(100)
    lines = tuple(LyricLine(f"l{i}", f"line number {i} of the long song", 2.0 + i * 2.3) for i in range(300))
    song = Song(tempo=tempo, sections=parse_sections("verse:290", tempo), lyrics=lines)
    assert song.duration_s > 690  # about 11.6 minutes
    tl = Timeline(DocumentModel(Project.create(tmp_path / "long", song)))
    tl.resize(1400, 300)
    qtbot.addWidget(tl)
    tl.show()
    qtbot.waitUntil(lambda: getattr(tl, "_fitted", False))
    qtbot.wait(30)
    assert tl.x_of(song.duration_s) <= tl.width()  # the whole song on screen
    ends = tl.line_ends()
    rects = [tl.line_rect(ln, ends) for ln in tl.doc.song.timed_lines()]
    assert all(a.right() <= b.left() for a, b in zip(rects, rects[1:], strict=False))  # marks, not a slab
    tl.zoom(8.0)
    for _ in range(200):
        tl.keyPressEvent(QKeyEvent(QKeyEvent.KeyPress, Qt.Key_PageDown, Qt.NoModifier))
    visible = (tl.width() - 96) / tl.px_per_s
    assert tl.scroll_s <= song.duration_s - visible * 0.5 + 1e-6  # PageDown stops inside the song
    assert tl.t_of(tl.width()) >= song.duration_s  # and the end is on screen


def test_the_effects_rack_reads_like_a_mixer(qtbot, window: MainWindow) -> None:
    rack = window.rack
    vocal_combo = rack.rows["vocal"][0]
    offered = [vocal_combo.itemText(i) for i in range(vocal_combo.count())]
    assert "vocal-clean" in offered and "bass-warm" not in offered and "master-gentle" not in offered
    rack.slot.setCurrentText("drums")
    vocal_combo.setCurrentText("vocal-clean")
    assert rack.slot.currentText() == "vocal"  # the parameters shown are the slot just changed
    qtbot.waitUntil(lambda: rack.params.rowCount() > 0)
    labels = [rack.params.item(r, 0).text().strip() for r in range(rack.params.rowCount())]
    assert "Compressor" in labels and "High shelf filter" in labels  # a row per plugin, its parameters under it
    assert labels[labels.index("Compressor") + 1] == "Threshold (dB)"
    assert not any("_" in label for label in labels)
    # Each knob: a slider over the parameter's range, a value box in its unit, one undo step per release.
    row = labels.index("High shelf filter") + 1
    assert labels[row] == "Cutoff frequency (Hz)"
    slider, spin = rack.params.cellWidget(row, 1), rack.params.cellWidget(row, 2)
    assert spin.suffix() == " Hz" and spin.minimum() == 20.0 and spin.maximum() == 20000.0
    assert slider.value() == round(math.log(spin.value() / 20) / math.log(1000) * 1000)  # logarithmic travel
    steps = window.doc.undo.count()
    slider.setSliderDown(True)
    for pos in range(slider.value(), 500, -25):
        slider.setSliderPosition(pos)
    slider.setSliderPosition(500)
    slider.setSliderDown(False)
    key = rack.params.item(row, 0).data(256)
    qtbot.waitUntil(lambda: key in window.doc.song.effects["vocal"].overrides)
    assert window.doc.undo.count() == steps + 1  # the drag is one edit
    assert abs(window.doc.song.effects["vocal"].overrides[key] - 20 * 1000 ** 0.5) < 5  # halfway on a log scale
    bypass_row = labels.index("Compressor")
    rack.params.cellWidget(bypass_row, 2).setChecked(True)  # A/B one plugin of the chain
    assert window.doc.song.effects["vocal"].overrides[rack.params.item(bypass_row, 0).data(256)] is True


def test_the_zoom_a_project_was_left_at_comes_back(qtbot, window: MainWindow) -> None:
    from gui.timeline import Timeline

    tl = window.timeline
    tl.zoom(4.0)
    tl.scroll_s = tl.clamp_scroll(3.0)
    left = tl.view()
    tl.remember_view()
    again = Timeline(window.doc)
    again.resize(tl.size())
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(lambda: again.view() == left)


def test_file_new_makes_a_project_from_lyrics_and_refuses_bad_input_without_making_anything(
        window: MainWindow, tmp_path: Path) -> None:
    from engine.errors import SongBridgeError
    from engine.song import Project

    lyrics = tmp_path / "new.lrc"
    lyrics.write_text("[00:04.00]first line\n[00:08.00]second line\n")
    folder = window.new_project(str(tmp_path / "fresh"), str(lyrics))
    song = Project.open(folder).song
    assert [ln.text for ln in song.lyrics] == ["first line", "second line"] and song.lyrics[1].start_s == 8.0
    with pytest.raises(SongBridgeError):
        window.new_project(str(folder))  # exists already
    broken = tmp_path / "broken.lrc"
    broken.write_bytes(b"\xff\xfe\x00bad")
    target = tmp_path / "never"
    with pytest.raises(SongBridgeError):
        window.new_project(str(target), str(broken))
    assert not list(tmp_path.glob("never*"))
    blank = window.new_project(str(tmp_path / "blank"))
    assert Project.open(blank).song.lyrics == ()


class LoadingPlayer(FakePlayer):
    """A player that takes loads and A/B switches without sound (the timeline only reads ``active``)."""

    def __init__(self) -> None:
        super().__init__()
        self.active = "A"
        self.loaded: dict[str, str] = {}

    def load(self, take_dir, slot: str = "A", **_kw) -> None:  # type: ignore[no-untyped-def]
        self.loaded[slot] = str(take_dir)

    def load_source(self, source, slot: str = "A") -> None:  # type: ignore[no-untyped-def]
        self.loaded[slot] = str(source.take_dir)  # a take opened off the GUI thread (gui.audition)
        source.close()

    def play(self) -> None:
        self.state = "playing"

    def ab(self, slot: str | None = None) -> None:
        self.active = slot or ("B" if self.active == "A" else "A")


def test_the_take_lanes_show_which_take_is_a_and_which_is_b(qtbot, window: MainWindow) -> None:
    add_takes(window, [7])
    player = LoadingPlayer()
    window.player = window.timeline.player = player
    window.play_take("take-002")
    assert window.timeline.slots == {"take-002": "A"}
    window.ab()  # the take before the newest becomes B (opened off the GUI thread), and is heard
    qtbot.waitUntil(lambda: player.active == "B", timeout=10_000)
    assert window.timeline.slots == {"take-002": "A", "take-001": "B"} and player.active == "B"
    window.timeline.repaint()  # the badges paint (one filled: the side heard)
    window.play_take("take-001")
    assert window.timeline.slots == {"take-001": "A"}


def test_a_saved_style_and_a_reference_clip_from_the_generate_panel(qtbot, window: MainWindow, tmp_path: Path,
                                                                    monkeypatch) -> None:
    import json

    import numpy as np
    import soundfile as sf

    from tests.conftest import tiny_neural_setup

    tiny_neural_setup(tmp_path / "models", monkeypatch, "Dusty keys", seed=2)
    panel = window.generation
    panel.refresh_presets()
    names = [panel.style_preset.itemText(i) for i in range(panel.style_preset.count())]
    assert "Dusty keys" in names
    sf.write(tmp_path / "short.wav", np.zeros((24000 * 4, 2)), 24000)
    panel.reference.setText(str(tmp_path / "short.wav"))
    before = window.doc.song
    assert window.generate(panel.options(), None) is None  # the clip is read off the GUI thread
    qtbot.waitUntil(lambda: "reference not used" in window.statusBar().currentMessage(), timeout=10_000)
    assert window.doc.song == before
    sf.write(tmp_path / "ref.flac", 0.2 * np.random.default_rng(0).standard_normal((48000 * 11, 2)), 48000)
    panel.reference.setText(str(tmp_path / "ref.flac"))
    panel.style_preset.setCurrentIndex(panel.style_preset.findData("Dusty keys"))
    panel.backend.setCurrentText("diffrhythm")
    count = len(window.doc.song.takes)
    window.generate(panel.options(), None)  # queued once the clip is copied into the project, off the GUI thread
    qtbot.waitUntil(lambda: window.doc.song.style.reference_audio is not None, timeout=10_000)
    style = window.doc.song.style
    assert style.preset == "Dusty keys" and style.reference_audio == "reference/ref.flac"
    assert (window.doc.folder / "reference" / "ref.flac").exists()  # the clip travels with the project
    qtbot.waitUntil(lambda: len(window.doc.song.takes) == count + 1, timeout=120_000)
    take = window.doc.song.takes[-1]
    record = json.loads((window.doc.folder / "takes" / take.id / "record.json").read_text())
    assert record["diffrhythm"]["style"]["source"] == "preset"  # the saved style wins over the clip
