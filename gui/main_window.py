"""The main window: the timeline in the centre, panels docked around it, undo/redo, save/open/recent projects,
autosave, shortcuts, and a status area for the engine, the audio device and the DAW link. The GUI thread only
submits work and reacts to events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QToolBar,
)

from engine.session import Session
from engine.song.tempo import Grid

from . import editing
from .daw_link import DawLinkPanel
from .document import DocumentModel
from .engine_client import EngineClient
from .panels import EffectsRack, GenerationPanel, JobsStrip, TakesPanel
from .peaks import PeakCache
from .timeline import Timeline

AUTOSAVE_MS = 60_000


class MainWindow(QMainWindow):
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
        self.takes = TakesPanel(self.doc)
        self.jobs = JobsStrip()
        self.rack = EffectsRack(self.doc)
        self.daw_link = DawLinkPanel(session, bridge, bridge_off)
        for title, widget, area in (("Generate", self.generation, Qt.RightDockWidgetArea),
                                    ("Takes", self.takes, Qt.RightDockWidgetArea),
                                    ("Effects", self.rack, Qt.LeftDockWidgetArea),
                                    ("DAW link", self.daw_link, Qt.LeftDockWidgetArea),
                                    ("Jobs", self.jobs, Qt.BottomDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(title)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
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
        self.resize(1500, 900)
        self._title()

    # -- actions and shortcuts -----------------------------------------------------------------------------------
    def _actions(self) -> None:
        bar = QToolBar("Transport")
        bar.setObjectName("transport")
        self.addToolBar(bar)
        m = self.menuBar().addMenu("&File")
        for text, key, slot in (("&Open…", QKeySequence.Open, self.open_dialog), ("&Save", QKeySequence.Save, self.save)):
            a = QAction(text, self)
            a.setShortcut(key)
            a.triggered.connect(slot)
            m.addAction(a)
        self.recent_menu = m.addMenu("Open &recent")
        self._recent()
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
        tm = self.menuBar().addMenu("&Transport")
        for text, key, slot, tip in (
                ("⏮ Start", "Home", self.return_to_start, "Return to the start of the song"),
                ("▶ Play/Pause", "Space", self.toggle_play, "Play the newest take from the play head, or pause"),
                ("■ Stop", "Ctrl+Space", self.stop, "Stop and go back to where playing started"),
                ("Loop selection", "L", self.loop, "Loop the range selected in the ruler (snapped to the grid)"),
                ("A/B", "B", self.ab, "Switch between the take playing (A) and the one before it (B)")):
            a = QAction(text, self)
            a.setShortcut(QKeySequence(key))
            a.setShortcutContext(Qt.WindowShortcut)
            a.setToolTip(f"{tip} ({key})")
            a.triggered.connect(slot)
            bar.addAction(a)
            tm.addAction(a)
        self.follow_action = QAction("Follow", self)
        self.follow_action.setCheckable(True)
        self.follow_action.setChecked(True)
        self.follow_action.setShortcut(QKeySequence("F"))
        self.follow_action.setToolTip("Keep the play head in view while playing (F)")
        self.follow_action.toggled.connect(lambda on: setattr(self.timeline, "follow", on))
        bar.addAction(self.follow_action)
        tm.addAction(self.follow_action)
        self.position = QLabel()
        self.position.setObjectName("position")
        self.position.setToolTip("Play head: bar | beat | tick, and minutes:seconds")
        self.position.setStyleSheet("font-size: 15px; padding: 0 10px;")
        self.song_facts = QLabel()
        self.song_facts.setToolTip("The song's tempo, meter and key")
        self.now_playing = QLabel()
        self.now_playing.setToolTip("Which take plays, and which side of the A/B comparison you hear")
        bar.addWidget(self.position)
        bar.addWidget(self.song_facts)
        bar.addWidget(self.now_playing)
        bar.addSeparator()
        vm = self.menuBar().addMenu("&View")
        for text, key, slot in (("Zoom in", "+", lambda: self.timeline.zoom(1.25)),
                                ("Zoom out", "-", lambda: self.timeline.zoom(0.8)),
                                ("Zoom to fit the song", "Ctrl+0", self.timeline.fit)):
            a = QAction(text, self)
            a.setShortcut(QKeySequence(key))
            a.setShortcutContext(Qt.WindowShortcut)
            a.setToolTip(f"{text} ({key})")
            a.triggered.connect(slot)
            bar.addAction(a)
            vm.addAction(a)
        self.grid_box = QComboBox()
        self.grid_box.addItems([g.value for g in Grid] + ["free"])
        self.grid_box.setCurrentText(Grid.BEAT.value)
        self.grid_box.setToolTip("Snap for dragging lines and for selecting or locating in the ruler (hold Shift "
                                 "for free)")
        self.grid_box.currentTextChanged.connect(self._grid)
        bar.addWidget(QLabel(" Snap "))
        bar.addWidget(self.grid_box)
        self._transport_timer = QTimer(self)
        self._transport_timer.timeout.connect(self._transport)
        self._transport_timer.start(50)
        self._transport()

    def _transport(self) -> None:
        """The transport readout: position in bars|beats and time, tempo, meter, key, the take playing, A/B."""
        song = self.doc.song
        t = self.timeline.playhead_s
        bbt = song.tempo.seconds_to_bbt(t)
        minutes, seconds = divmod(t, 60.0)
        self.position.setText(f"{bbt}   {int(minutes):02d}:{seconds:06.3f}")
        key = f"{song.key.tonic} {song.key.mode}"
        self.song_facts.setText(f"♩ {song.tempo.bpm:g} bpm   {song.tempo.meter}   {key}".rstrip())
        pl = self.player
        take_id = getattr(self, "_playing_take", None)
        if pl is None:
            self.now_playing.setText("  no audio device")
        elif take_id is None:
            self.now_playing.setText("  ")
        else:
            try:
                name = self.doc.song.take(take_id).name or take_id
            except KeyError:
                name = take_id
            side = getattr(pl, "active", "A")
            b_name = getattr(self, "_b_take", None)
            ab = f"   A/B: hearing {side}" + (f" ({b_name})" if side == "B" and b_name else "") if b_name else ""
            self.now_playing.setText(f"  {pl.state}: {name}{ab}")

    def _grid(self, text: str) -> None:
        self.timeline.grid = next((g for g in Grid if g.value == text), None) or Grid.BEAT
        if text == "free":
            self.timeline.grid = None  # type: ignore[assignment]

    # -- project -------------------------------------------------------------------------------------------------
    def _title(self) -> None:
        dirty = "" if self.doc.undo.isClean() else " *"
        self.setWindowTitle(f"{self.doc.song.info.title}{dirty} — SongBridge")

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
        subprocess.Popen([sys.executable, "-m", "songbridge", "gui", str(folder), "--osc", "127.0.0.1:0"],
                         start_new_session=True)
        self._remember(folder)
        self.statusBar().showMessage(f"opening {folder} in a new window…", 5000)

    # -- generation ----------------------------------------------------------------------------------------------
    def generate(self, opts: dict[str, Any], rng: tuple[float, float] | None) -> str | None:
        from engine.backends.base import EditSpec  # noqa: PLC0415
        from engine.service import PRIORITY_INTERACTIVE  # noqa: PLC0415
        from engine.song import TimeRange  # noqa: PLC0415
        from engine.song.model import Style  # noqa: PLC0415

        song = self.doc.song
        if opts.get("style") is not None and opts["style"] != song.style.prompt:
            self.doc.edit(song.replace(style=Style(opts["style"], song.style.preset, song.style.reference_audio)),
                          "Style")
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

    # -- audition ------------------------------------------------------------------------------------------------
    def play_take(self, take_id: str) -> None:
        if self.player is None:
            self.statusBar().showMessage("no audio device", 4000)
            return
        take = self.doc.song.take(take_id)
        chains, master = self.chains_for(take)
        self.player.load(self.doc.project.take_dir(take_id), stems=list(take.stems), chains=chains, master=master)
        self._playing_take = take_id
        self._play_from = self.timeline.playhead_s
        self.player.seek(self.timeline.playhead_s)
        self.player.play()

    def chains_for(self, take: Any) -> tuple[dict[str, Any], Any]:
        """The take's effect chains as ``songbridge play`` and render use them: a rendered take plays with the
        chains of its render; one not rendered yet with the rack's (live)."""
        from engine.audio.fx import load_board, user_preset_dirs  # noqa: PLC0415
        from engine.render import audition_chains  # noqa: PLC0415

        ac = audition_chains(self.doc.project, take.id, take.stems)
        if ac.source == "render":
            self.statusBar().showMessage(f"{take.id}: {ac.describe()}; the rack applies to its next render", 8000)
        boards, master = {}, None
        for slot, preset in ac.presets.items():
            if not preset:
                continue
            try:
                board = load_board(preset, 44100, user_preset_dirs(), ac.overrides.get(slot))
            except Exception as exc:  # noqa: BLE001 - a broken preset is reported, playback goes on dry
                self.statusBar().showMessage(f"{slot}: {exc}", 8000)
                continue
            if slot == "master":
                master = board
            elif slot in take.stems:
                boards[slot] = board
        return boards, master

    def _effects_changed(self) -> None:
        """Live effects: reload the playing take's chains when the rack changes."""
        take_id = getattr(self, "_playing_take", None)
        if self.player is None or take_id is None or self.player.state != "playing":
            return
        try:
            take = self.doc.song.take(take_id)
        except KeyError:
            return
        chains, master = self.chains_for(take)
        self.player.load(self.doc.project.take_dir(take_id), stems=list(take.stems), chains=chains, master=master)

    def compare_take(self, take_id: str) -> None:
        """A/B: the chosen take becomes B at the play head."""
        if self.player is None:
            self.statusBar().showMessage("no audio device", 4000)
            return
        take = self.doc.song.take(take_id)
        self.player.load(self.doc.project.take_dir(take_id), slot="B", stems=list(take.stems))
        self._b_take = take.name or take.id
        self.player.ab("B")

    def render_take(self, take_id: str) -> str:
        from engine.render import RenderSettings  # noqa: PLC0415
        from engine.service import RenderJob  # noqa: PLC0415

        self.doc.session.flush()  # the worker reads song.json
        return self.engine.submit(RenderJob(self.doc.folder, take_id, RenderSettings(), label=f"render {take_id}"))

    def return_to_start(self) -> None:
        self.timeline.locate(0.0)

    def stop(self) -> None:
        """Stop; the play head goes back to where playing started (as in Ardour and REAPER)."""
        if self.player is not None:
            self.player.pause()
        self.timeline.locate(getattr(self, "_play_from", 0.0))

    def toggle_play(self) -> None:
        if self.player is not None:
            if self.player.state == "stopped" and self.doc.song.takes:
                self.play_take(self.doc.song.takes[-1].id)
            else:
                self.player.toggle()

    def loop(self) -> None:
        if self.player is not None and self.timeline.range:
            self.player.set_loop(*self.timeline.range)

    def ab(self) -> None:
        if self.player is not None and len(self.doc.song.takes) >= 2:
            other = self.doc.song.takes[-2]
            if getattr(self, "_b_take", None) != (other.name or other.id):
                self.player.load(self.doc.project.take_dir(other.id), slot="B", stems=list(other.stems))
                self._b_take = other.name or other.id
            self.player.ab()

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
        self.doc.save()
        super().closeEvent(event)
