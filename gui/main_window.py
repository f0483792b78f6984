"""The main window: the timeline in the centre, panels docked around it, undo/redo, save/open/recent projects,
autosave, shortcuts, and a status area for the engine, the audio device and the DAW link. The GUI thread only
submits work and reacts to events."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
)

from engine.session import Session

from . import editing
from .actions import ShortcutSheet, WindowActions
from .audition import Audition
from .background import Background
from .daw_link import DawLinkPanel
from .document import DocumentModel
from .effects_rack import EffectsRack
from .engine_client import EngineClient
from .generating import Generating
from .jobs import JobsStrip
from .loop_audition import LoopAudition, install_loops
from .loops import LoopsPanel
from .lyric_sheet import LyricSheet
from .mixer import StemMixer
from .panels import GenerationPanel, TakesPanel
from .peaks import PeakCache
from .preferences import install_preferences
from .project_files import ProjectFiles
from .take_tools import TakeTools
from .timeline import Timeline
from .transport import TransportBar


class MainWindow(ProjectFiles, Generating, LoopAudition, Audition, TakeTools, QMainWindow):
    def __init__(self, session: Session, engine: EngineClient, player: Any = None, bridge: Any = None,
                 bridge_off: str = ""):
        super().__init__()
        self.doc = DocumentModel(session)
        self.engine = engine
        self.player = player
        self.bridge = bridge
        self.peaks = PeakCache(session.folder)
        self.timeline = Timeline(self.doc, self.peaks, player)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.timeline)
        self.setCentralWidget(scroll)
        self.generation = GenerationPanel(self.doc)
        self.loops = LoopsPanel(self.doc)
        self.takes = TakesPanel(self.doc)
        self.jobs = JobsStrip()
        self.rack = EffectsRack(self.doc)
        self.daw_link = DawLinkPanel(session, bridge, bridge_off)
        self.mixer = StemMixer(player)
        self.sheet = LyricSheet(self.doc)
        # The timeline gets the width: the panels sit in two tabbed groups on the right (as an editor's lists do in
        # Ardour), the jobs strip below. A layout the producer made is restored over this (``_restore_layout``).
        docks = {}
        for title, widget, area in (("Lyrics", self.sheet, Qt.LeftDockWidgetArea),
                                    ("Generate", self.generation, Qt.RightDockWidgetArea),
                                    ("Loops", self.loops, Qt.RightDockWidgetArea),
                                    ("Effects", self.rack, Qt.RightDockWidgetArea),
                                    ("DAW link", self.daw_link, Qt.RightDockWidgetArea),
                                    ("Takes", self.takes, Qt.RightDockWidgetArea),
                                    ("Stems", self.mixer, Qt.RightDockWidgetArea),
                                    ("Jobs", self.jobs, Qt.BottomDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(title)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            docks[title] = dock
        self.tabifyDockWidget(docks["Generate"], docks["Loops"])
        self.tabifyDockWidget(docks["Loops"], docks["Effects"])
        self.tabifyDockWidget(docks["Effects"], docks["DAW link"])
        self.tabifyDockWidget(docks["Takes"], docks["Stems"])
        docks["Generate"].raise_()
        docks["Takes"].raise_()
        self.resizeDocks([docks["Generate"], docks["Lyrics"]], [380, 360], Qt.Horizontal)
        self.docks = docks
        self._actions()
        self._wire_sheet()
        install_loops(self)  # the Loops lane's clips play and land from here
        install_preferences(self)  # the models folder (Edit > Preferences…) and the panels' backend lines
        self.engine.queued.connect(self.jobs.add)
        self.engine.progress.connect(self.jobs.progress)
        self.timeline.rangeChanged.connect(lambda *_: self._selection())
        self.timeline.rangeCleared.connect(self._selection)
        self.timeline.selectionChanged.connect(self._selection)
        self.engine.finished.connect(self._finished)
        self.engine.failed.connect(self._failed)
        self.engine.cancelled.connect(lambda j: self.jobs.done(j, "cancelled"))
        self.jobs.cancel.connect(self.engine.cancel)
        self.generation.generateSong.connect(lambda o: self.generate(o, None))
        self.generation.regenerateSelection.connect(lambda o: self.generate(o, self.timeline.range))
        self.generation.regenerateLines.connect(self._regenerate_lines)
        self.takes.play.connect(self.play_take)
        self.takes.compare.connect(self.compare_take)
        self.takes.render.connect(self.render_take)
        self.takes.split.connect(self.split_take)
        self.takes.grid.connect(self.grid_take)
        self.takes.lock.connect(self.toggle_lock)
        self.takes.editTake.connect(self._edit_take_chosen)
        self.doc.songChanged.connect(lambda: self.mixer.show_only(self.rack.used_slots()))
        self.mixer.show_only(self.rack.used_slots())
        self.doc.songChanged.connect(self._title)
        self.doc.songChanged.connect(self._status)
        self.rack.changed.connect(self._effects_changed)
        self.doc.undo.cleanChanged.connect(lambda _c: self._title())
        self.status_engine = QLabel()
        self.status_audio = QLabel()
        self.status_daw = QLabel()
        for w in (self.status_engine, self.status_audio, self.status_daw):
            self.statusBar().addPermanentWidget(w)
        self._status()
        self.tasks = Background(self)  # slow work (disk copies, imports) off the GUI thread
        self._lint_later = QTimer(self)
        self._lint_later.setSingleShot(True)
        self._lint_later.timeout.connect(self._lint)
        self.doc.songChanged.connect(lambda: self._lint_later.start(400))
        self._lint_later.start(100)
        self._restore_layout()
        self._title()
        # start with the keyboard on the timeline, so Space plays (in a text field it would type a space)
        QTimer.singleShot(0, self.timeline.setFocus)

    # -- actions and shortcuts: declared once in gui.actions.table -------------------------------------------------
    def _actions(self) -> None:
        self.action_set = WindowActions(self)
        self.recent_menu = self.action_set.submenus["file.recent"]
        self._recent()
        self.action_set.menus["Edit"].aboutToShow.connect(self.sheet.apply)  # typed in the sheet: an edit first
        self.transport = TransportBar(self, self.action_set.toolbar)
        self.addToolBar(self.transport)

    def show_dock(self, name: str, on: bool = True) -> None:
        self.docks[name].setVisible(on)
        if on:
            self.docks[name].raise_()

    def _wire_sheet(self) -> None:
        """The lyric sheet and the timeline show the same lines: a row clicked selects its line, a line selected
        is highlighted, the play head's line is lit; double-click on a line edits it in the sheet."""
        tl, sheet = self.timeline, self.sheet
        tl.edit_in_sheet = True
        sheet.lineActivated.connect(self._sheet_line)
        tl.selectionChanged.connect(lambda: sheet.show_selection(tl.selected))
        tl.playheadMoved.connect(sheet.set_playhead)
        tl.editLine.connect(self._edit_in_sheet)
        for source in (tl, sheet):
            source.message.connect(lambda m: self.statusBar().showMessage(m, 10000))

    def _sheet_line(self, line_id: str) -> None:
        tl = self.timeline
        line = next((ln for ln in self.doc.song.lyrics if ln.id == line_id), None)
        if line is None:
            return
        tl.selected = {line_id}
        if line.start_s is not None:
            tl.keep_in_view(line.start_s)
        else:
            self.statusBar().showMessage("this line is not placed yet: Ctrl+Shift+T auto-times it, T taps it", 5000)
        tl.selectionChanged.emit()
        tl.update()

    def _edit_in_sheet(self, line_id: str) -> None:
        self.docks["Lyrics"].show()
        self.docks["Lyrics"].raise_()
        self.sheet.edit_line(line_id)

    def _restore_layout(self) -> None:
        """The window's size, docks and zoom as the producer left them; the first time, most of the screen."""
        s = QSettings("songbridge", "songbridge")
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if geometry is None or not self.restoreGeometry(geometry):
            screen = self.screen().availableGeometry() if self.screen() else None
            self.resize(int(screen.width() * 0.92), int(screen.height() * 0.9)) if screen else self.resize(1500, 900)
        if state is not None:
            self.restoreState(state)
        QTimer.singleShot(0, self._hide_stray_tab_bars)

    def _hide_stray_tab_bars(self) -> None:
        """Qt 6.11 leaves a stray copy of a dock group's tab bar when one dock area holds two tabbed groups (here
        Generate… and Takes/Stems); it shows over the lyric sheet. The tab bar the layout uses sits in the column
        of its docks; the copy, which the layout never moves or shows again, is hidden."""
        from PySide6.QtWidgets import QTabBar

        docks = [d for d in self.findChildren(QDockWidget) if d.isVisible() and not d.isFloating()]
        for bar in self.findChildren(QTabBar):
            names = {bar.tabText(i) for i in range(bar.count())}
            if bar.parent() is self and not any(d.windowTitle() in names and abs(d.x() - bar.x()) < 4
                                                for d in docks):
                bar.hide()

    def _save_layout(self) -> None:
        s = QSettings("songbridge", "songbridge")
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())

    def shortcut_sheet(self) -> str:
        """Every action of the table with its keys, menu by menu, then the timeline's gestures (HTML)."""
        return self.action_set.sheet_html()

    def show_shortcuts(self) -> ShortcutSheet:
        if getattr(self, "shortcuts_dialog", None) is None:
            self.shortcuts_dialog = ShortcutSheet(self.action_set, self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()
        return self.shortcuts_dialog

    # -- editing helpers -----------------------------------------------------------------------------------------
    def split_line(self) -> None:
        if len(self.timeline.selected) == 1:
            (lid,) = self.timeline.selected
            self.doc.edit(editing.split_line(self.doc.song, lid, self.timeline.playhead_s), "Split line")

    def merge_lines(self) -> None:
        self.doc.edit(editing.merge_lines(self.doc.song, self.timeline.selected), "Merge lines")

    def auto_time(self) -> None:
        from engine.lyrics import auto_time

        song = self.doc.song
        self.doc.edit(song.with_lyrics(auto_time(song.lyrics, song.tempo, song.sections)), "Auto-time")

    def _lint(self) -> None:
        """The timing lint, drawn on the lines (its G2P loads off the GUI thread the first time)."""
        from concurrent.futures import ThreadPoolExecutor

        song = self.doc.song

        def work() -> dict[str, str]:
            from engine.lyrics import lint_lines

            return {i.line_id: f"{i.kind}: {i.message}" for i in lint_lines(song.lyrics, song_end_s=song.duration_s)
                    if i.severity == "warning"}

        if not hasattr(self, "_lint_pool"):
            self._lint_pool = ThreadPoolExecutor(max_workers=1)
        fut = self._lint_pool.submit(work)
        fut.add_done_callback(lambda f: QTimer.singleShot(0, self, lambda: self._set_lint(f.result())))

    def _set_lint(self, result: dict[str, str]) -> None:
        self.timeline.lint = result
        self.timeline.update()
        self.sheet.set_lint(result)

    def _status(self) -> None:
        svc = self.engine.service
        self.status_engine.setText(f"engine: {getattr(svc, 'mode', 'remote')}")
        dev = getattr(self.player, "device", None)
        self.status_audio.setText(f"audio: {dev.name} ({dev.hostapi})" if dev else "audio: off")
        daw = self.doc.song.daw
        if self.bridge is not None:
            h, port = self.bridge.osc.address
            link = f"OSC {h}:{port}"
        else:
            link = "DAW link off"
        self.status_daw.setText(f"DAW: {daw.adapter}, {link}")

    def closeEvent(self, event) -> None:
        """Edits are on disk as they happen, so closing loses nothing of the song; running jobs would be lost, so
        closing with jobs running asks first."""
        self.timeline.finish_taps()
        running = [j for j in self.engine.service.jobs() if j.state in ("queued", "running")]
        if running and not self.confirm_quit(len(running)):
            event.ignore()
            return
        for j in running:
            self.engine.cancel(j.id)
        self._save_layout()
        self.timeline.remember_view()
        self.doc.save()
        super().closeEvent(event)

    def confirm_quit(self, jobs: int) -> bool:
        answer = QMessageBox.question(
            self, "Jobs are running", f"{jobs} job{'s' if jobs > 1 else ''} still running. Quit and cancel "
            f"{'them' if jobs > 1 else 'it'}? (The song and its takes are saved.)",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes
