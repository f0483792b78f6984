"""The main window: the timeline in the centre, panels docked around it, undo/redo, save/open/recent projects,
autosave, shortcuts, and a status area for the engine, the audio device and the DAW link. The GUI thread only
submits work and reacts to events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
)

from engine.session import Session

from . import editing
from .audition import Audition
from .daw_link import DawLinkPanel
from .document import DocumentModel
from .effects_rack import EffectsRack
from .engine_client import EngineClient
from .jobs import JobsStrip
from .loops import LoopsPanel
from .mixer import StemMixer
from .panels import GenerationPanel, TakesPanel
from .peaks import PeakCache
from .take_tools import TakeTools
from .timeline import Timeline
from .transport import TransportBar

AUTOSAVE_MS = 60_000


class MainWindow(Audition, TakeTools, QMainWindow):
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
        # The timeline gets the width: the panels sit in two tabbed groups on the right (as an editor's lists do in
        # Ardour), the jobs strip below. A layout the producer made is restored over this (``_restore_layout``).
        docks = {}
        for title, widget, area in (("Generate", self.generation, Qt.RightDockWidgetArea),
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
        self.resizeDocks([docks["Generate"]], [380], Qt.Horizontal)
        self._actions()
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
        self.engine.finished.connect(self.take_job_finished)
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
        self._autosave = QTimer(self)
        self._autosave.timeout.connect(self._autosave_now)
        self._autosave.start(AUTOSAVE_MS)
        self._lint_later = QTimer(self)
        self._lint_later.setSingleShot(True)
        self._lint_later.timeout.connect(self._lint)
        self.doc.songChanged.connect(lambda: self._lint_later.start(400))
        self._lint_later.start(100)
        self._restore_layout()
        self._title()
        # start with the keyboard on the timeline, so Space plays (in a text field it would type a space)
        QTimer.singleShot(0, self.timeline.setFocus)

    # -- actions and shortcuts -----------------------------------------------------------------------------------
    def _actions(self) -> None:
        m = self.menuBar().addMenu("&File")
        for text, key, slot in (("&New…", QKeySequence.New, self.new_dialog),
                                ("&Open…", QKeySequence.Open, self.open_dialog),
                                ("&Save", QKeySequence.Save, self.save),
                                ("Save &As…", QKeySequence.SaveAs, self.save_as),
                                ("&Render newest take for the DAW", "Ctrl+R", self.render_newest),
                                ("Open the &renders folder", "", self.open_renders)):
            a = QAction(text, self)
            if key:
                a.setShortcut(key)
            a.triggered.connect(slot)
            m.addAction(a)
        self.recent_menu = m.addMenu("Open &recent")
        self._recent()
        m.addSeparator()
        quit_ = QAction("&Quit", self)
        quit_.setShortcut(QKeySequence.Quit)
        quit_.triggered.connect(self.close)
        m.addAction(quit_)
        e = self.menuBar().addMenu("&Edit")
        undo = self.doc.undo.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.Undo)
        redo = self.doc.undo.createRedoAction(self, "&Redo")
        # QKeySequence.Redo is Ctrl+Shift+Z (and Ctrl+Y) on Linux already: listing it twice makes Qt call the
        # shortcut ambiguous and do nothing
        keys = QKeySequence.keyBindings(QKeySequence.Redo)
        redo.setShortcuts(keys + [QKeySequence(k) for k in ("Ctrl+Shift+Z", "Ctrl+Y")
                                  if QKeySequence(k) not in keys])
        e.addActions([undo, redo])
        for text, key, slot in (("Split line at playhead", "Ctrl+E", self._split),
                                ("Merge selected lines", "Ctrl+M", self._merge),
                                ("Auto-time untimed lines", "Ctrl+Shift+T", self._autotime)):
            a = QAction(text, self)
            a.setShortcut(QKeySequence(key))
            a.triggered.connect(slot)
            e.addAction(a)
        self.transport = TransportBar(self)
        self.addToolBar(self.transport)
        self._help_menu()

    def _restore_layout(self) -> None:
        """The window's size, docks and zoom as the producer left them; the first time, most of the screen."""
        s = QSettings("songbridge", "songbridge")
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if geometry is None or not self.restoreGeometry(geometry):
            screen = self.screen().availableGeometry() if self.screen() else None
            self.resize(int(screen.width() * 0.92), int(screen.height() * 0.9)) if screen else self.resize(1500, 900)
        if state is not None:
            self.restoreState(state)

    def _save_layout(self) -> None:
        s = QSettings("songbridge", "songbridge")
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())

    def _help_menu(self) -> None:
        h = self.menuBar().addMenu("&Help")
        a = QAction("&Keyboard shortcuts", self)
        a.setShortcut(QKeySequence("F1"))
        a.triggered.connect(self.show_shortcuts)
        h.addAction(a)

    def shortcut_sheet(self) -> str:
        """Every menu action with its keys, menu by menu."""
        lines = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            if menu is None:
                continue
            lines.append(f"<b>{menu.title().replace('&', '')}</b>")
            for a in menu.actions():
                keys = ", ".join(k.toString(QKeySequence.NativeText) for k in a.shortcuts())
                if a.text() and not a.isSeparator():
                    lines.append(f"&nbsp;&nbsp;{a.text().replace('&', '')}" + (f" — <tt>{keys}</tt>" if keys else ""))
        lines.append("<b>Timeline</b>")
        lines += [f"&nbsp;&nbsp;{t}" for t in (
            "click in the ruler — locate (snapped; Shift: free)", "drag in the ruler — select a range",
            "drag a line — move it (Shift: free); its right edge — stretch", "double-click a line — edit its text",
            "←/→ — nudge selected lines (Shift: 10 ms)", "T — tap-time the next line at the play head",
            "Ctrl+wheel — zoom; wheel — scroll; PageUp/PageDown/Home — scroll")]
        return "<br>".join(lines)

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", self.shortcut_sheet())

    # -- project -------------------------------------------------------------------------------------------------
    def _title(self) -> None:
        # no "unsaved" star: every edit is on disk as it happens (the session's saver), so there is nothing to lose
        self.setWindowTitle(f"{self.doc.song.info.title} — {self.doc.folder.name} — SongBridge")

    def save(self) -> None:
        self.doc.save()
        self.statusBar().showMessage(f"saved {self.doc.folder}", 3000)
        self._remember(self.doc.folder)

    def _autosave_now(self) -> None:
        if not self.doc.undo.isClean():
            self.save()

    def _remember(self, folder: Path) -> None:
        s = QSettings("songbridge", "songbridge")
        recent = [str(folder)] + [r for r in (s.value("recent") or []) if r != str(folder)]
        s.setValue("recent", recent[:8])
        self._recent()

    def _recent(self) -> None:
        self.recent_menu.clear()
        for r in QSettings("songbridge", "songbridge").value("recent") or []:
            a = self.recent_menu.addAction(r)
            a.triggered.connect(lambda _c=False, path=r: self.open_project(path))

    def new_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New project", str(self.doc.folder.parent / "new-song"))
        if not path:
            return
        lyrics, _ = QFileDialog.getOpenFileName(self, "Lyrics for the new song (Cancel: start without)",
                                                str(self.doc.folder.parent), "Lyrics (*.lrc *.txt);;All files (*)")
        try:
            folder = self.new_project(path, lyrics or None)
        except Exception as exc:  # noqa: BLE001 - a clear message, nothing created
            QMessageBox.warning(self, "New project", str(exc))
            return
        self.open_project(str(folder))

    def new_project(self, path: str, lyrics: str | None = None) -> Path:
        """A new project at ``path`` (with the lyrics file's lines, timed or placed on bars), for its own window."""
        from engine.errors import SongBridgeError  # noqa: PLC0415
        from engine.generation import SongChoices, prepare_song  # noqa: PLC0415
        from engine.lyrics import parse_file  # noqa: PLC0415
        from engine.song import Project, Song  # noqa: PLC0415
        from engine.song.project import project_path  # noqa: PLC0415

        folder = project_path(path)
        if folder.exists():
            raise SongBridgeError(f"{folder} exists already; choose another name")
        doc = parse_file(lyrics) if lyrics else None  # a broken lyrics file is refused before anything is made
        title = folder.name.removesuffix(".songbridge")
        song = prepare_song(Song(), doc, SongChoices(title=title), first_time=True)
        Project.create(folder, song)
        return folder

    def save_as(self) -> None:
        """A copy of the project (song, takes, renders) under a new name, opened in its own window."""
        import shutil  # noqa: PLC0415

        path, _ = QFileDialog.getSaveFileName(self, "Save project as", str(self.doc.folder.parent))
        if not path:
            return
        from engine.song.project import project_path  # noqa: PLC0415

        target = project_path(path)
        if target.exists():
            QMessageBox.warning(self, "Save as", f"{target} exists already; choose another name.")
            return
        self.doc.save()
        shutil.copytree(self.doc.folder, target, ignore=shutil.ignore_patterns(".songbridge.lock", ".*.tmp"))
        self.open_project(str(target))

    def render_newest(self) -> None:
        if not self.doc.song.takes:
            self.statusBar().showMessage("no take to render yet: generate one first", 5000)
            return
        self.render_take(self.doc.song.takes[-1].id)

    def open_renders(self) -> None:
        from PySide6.QtCore import QUrl  # noqa: PLC0415
        from PySide6.QtGui import QDesktopServices  # noqa: PLC0415

        folder = getattr(self, "last_render", None) or self.doc.folder / "renders"
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def open_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open project", str(self.doc.folder.parent))
        if path:
            self.open_project(path)

    def open_project(self, path: str) -> None:
        """Open another project in its own window and process: each project has one owner, and this window's
        session, engine and DAW link stay with this project."""
        import subprocess  # noqa: PLC0415
        import sys  # noqa: PLC0415

        from engine.song.lock import read_holder  # noqa: PLC0415
        from engine.song.project import project_path  # noqa: PLC0415

        folder = project_path(path)
        holder = read_holder(folder)
        if folder == self.doc.folder:
            self.statusBar().showMessage(f"{folder.name} is this window's project", 5000)
            return
        if holder is not None and holder.host == __import__("socket").gethostname():
            import os  # noqa: PLC0415

            try:
                os.kill(holder.pid, 0)
                QMessageBox.information(self, "Already open", f"{folder} is open in {holder.describe()}.")
                return
            except OSError:
                pass
        child = subprocess.Popen([sys.executable, "-m", "songbridge", "gui", str(folder), "--osc", "127.0.0.1:0"],
                                 start_new_session=True, stderr=subprocess.PIPE, text=True)
        self._remember(folder)
        self.statusBar().showMessage(f"opening {folder} in a new window…")

        def check() -> None:  # a project that cannot open says why, instead of "opening…" forever
            if child.poll() is None:
                self.statusBar().showMessage(f"{folder.name} opened in a new window", 4000)
                return
            if child.returncode != 0:
                why = (child.stderr.read() if child.stderr else "").strip().splitlines()[-1:] or ["it exited"]
                self.statusBar().showMessage(f"could not open {folder}: {why[0]}", 15000)

        QTimer.singleShot(3000, check)

    # -- generation ----------------------------------------------------------------------------------------------
    def _style_from(self, opts: dict[str, Any], song: Any) -> Any:
        """The song's style from the Generate panel: words, a reference clip (checked, then copied into the
        project) and a saved preset. None (with a message) when the reference cannot be used."""
        from dataclasses import replace  # noqa: PLC0415
        from pathlib import Path  # noqa: PLC0415

        from engine.errors import SongBridgeError  # noqa: PLC0415

        style = song.style
        if opts.get("style") is not None:
            style = replace(style, prompt=opts["style"])
        if "style_preset" in opts:
            style = replace(style, preset=opts["style_preset"])
        ref = opts.get("reference")
        if "reference" in opts and not ref:
            style = replace(style, reference_audio=None)
        elif ref and ref != song.style.reference_audio:
            from engine.style.reference import prepare  # noqa: PLC0415

            folder = self.doc.folder
            path = Path(ref).expanduser()
            path = path if path.is_absolute() else folder / path
            try:
                prepare(path)
            except SongBridgeError as exc:
                self.statusBar().showMessage(f"reference not used: {exc}", 15000)
                return None
            if folder.resolve() not in path.resolve().parents:
                import shutil  # noqa: PLC0415

                target = folder / "reference" / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                path = target
            style = replace(style, reference_audio=str(path.resolve().relative_to(folder.resolve())))
        return style

    def generate(self, opts: dict[str, Any], rng: tuple[float, float] | None) -> str | None:
        from engine.backends.base import EditSpec  # noqa: PLC0415
        from engine.service import PRIORITY_INTERACTIVE  # noqa: PLC0415
        from engine.song import TimeRange  # noqa: PLC0415

        song = self.doc.song
        style = self._style_from(opts, song)
        if style is None:
            return None
        if style != song.style:
            self.doc.edit(song.replace(style=style), "Style")
            song = self.doc.song
        edit = None
        if rng is not None:
            base = song.base_take()
            if base is None:
                self.statusBar().showMessage("generate the song first, then regenerate parts of it", 5000)
                return None
            edit = EditSpec(base.id, (TimeRange(rng[0], min(rng[1], base.duration_s)),))
        label = "song" if rng is None else f"{rng[0]:.1f}-{rng[1]:.1f} s"
        try:
            return self.doc.session.generate(opts["backend"], opts["takes"], opts["seed"], params=opts.get("params"),
                                             edit=edit, priority=PRIORITY_INTERACTIVE, label=label, origin="app")
        except Exception as exc:  # noqa: BLE001 - shown, the app goes on
            self.statusBar().showMessage(str(exc), 8000)
            return None

    def _selection(self) -> None:
        self.generation.set_selection(self.timeline.range is not None, bool(self.timeline.selected))

    def _regenerate_lines(self, opts: dict[str, Any]) -> None:
        song = self.doc.song
        base = song.base_take()
        rng = editing.lines_range(song, self.timeline.selected, base.duration_s if base else None)
        if rng is None:
            self.statusBar().showMessage("select lyric lines first", 4000)
            return
        self.generate(opts, rng)

    def _finished(self, job_id: str, ev: Any) -> None:
        """The session has already put the job's takes in the song (and saved it)."""
        render = getattr(ev, "render", None) or {}
        if render.get("folder"):
            self.last_render = Path(render["folder"])
            text = f"rendered {len(render.get('files', {}))} files to {render['folder']} (File > Open the renders folder)"
            self.jobs.done(job_id, text)
            self.statusBar().showMessage(text, 15000)
            return
        self.jobs.done(job_id, ", ".join(t.id for t in ev.takes) + " ready" if ev.takes else "done")
        if ev.takes:
            self.statusBar().showMessage(f"{', '.join(t.id for t in ev.takes)} ready", 5000)

    def _failed(self, job_id: str, message: str) -> None:
        self.jobs.done(job_id, f"failed: {message[:80]}")
        self.statusBar().showMessage(f"job failed: {message}", 10000)

    # -- editing helpers -----------------------------------------------------------------------------------------
    def _split(self) -> None:
        if len(self.timeline.selected) == 1:
            (lid,) = self.timeline.selected
            self.doc.edit(editing.split_line(self.doc.song, lid, self.timeline.playhead_s), "Split line")

    def _merge(self) -> None:
        self.doc.edit(editing.merge_lines(self.doc.song, self.timeline.selected), "Merge lines")

    def _autotime(self) -> None:
        from engine.lyrics import auto_time  # noqa: PLC0415

        song = self.doc.song
        self.doc.edit(song.with_lyrics(auto_time(song.lyrics, song.tempo, song.sections)), "Auto-time")

    def _lint(self) -> None:
        """The timing lint, drawn on the lines (its G2P loads off the GUI thread the first time)."""
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

        song = self.doc.song

        def work() -> dict[str, str]:
            from engine.lyrics import lint_lines  # noqa: PLC0415

            return {i.line_id: f"{i.kind}: {i.message}" for i in lint_lines(song.lyrics, song_end_s=song.duration_s)
                    if i.severity == "warning"}

        if not hasattr(self, "_lint_pool"):
            self._lint_pool = ThreadPoolExecutor(max_workers=1)
        fut = self._lint_pool.submit(work)
        fut.add_done_callback(lambda f: QTimer.singleShot(0, self, lambda: self._set_lint(f.result())))

    def _set_lint(self, result: dict[str, str]) -> None:
        self.timeline.lint = result
        self.timeline.update()

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

    def closeEvent(self, event) -> None:  # noqa: N802
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
