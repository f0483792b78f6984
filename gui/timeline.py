"""The timeline: a ruler in bars|beats with seconds below, the section lane (``gui.section_lane``), the lyric lane
(``gui.lyric_lane``: drag to move with snapping, Shift for free, right edge to stretch, double-click to edit text,
arrows to nudge, T to tap-time; words dragged in the word view), take lanes with waveforms (expandable per stem,
taller to fill the height there is), a playhead and a time-range selection. Painting only draws what is visible
and reads precomputed peaks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QLineEdit, QToolTip, QWidget

from engine.song.tempo import Grid
from engine.song.word_times import move_word

from . import editing
from .document import DocumentModel
from .loop_lane import LoopLane
from .lyric_lane import ROW_H, WORD_H, LyricLane
from .peaks import PeakCache
from .section_lane import SectionLane
from .timeline_paint import EDGE, LABEL_W, RULER_H, SECTION_H, STEM_H, TAKE_H, TimelinePainting

MIN_PX_PER_S = 0.25  # zoomed out far enough for an hour-long song
MAX_GROW = 4.0  # take lanes grow up to this many times their height to fill the window


@dataclass
class Drag:
    kind: str  # move | stretch | range | word | section_start | section_end | section_move | loop
    x0: float
    ids: tuple[str, ...] = ()
    anchor: str = ""
    t0: float = 0.0


class Timeline(LoopLane, SectionLane, LyricLane, TimelinePainting, QWidget):
    selectionChanged = Signal()
    rangeChanged = Signal(float, float)
    rangeCleared = Signal()
    located = Signal(float)  # a click in the ruler moved the play head here
    playheadMoved = Signal(float)  # located, or moved by the player
    message = Signal(str)  # a sentence for the status bar (an edit refused, and why)
    editLine = Signal(str)  # double-click on a line: the window opens it in the lyric sheet
    followChanged = Signal(bool)  # "lines follow section edits" switched

    def __init__(self, doc: DocumentModel, peaks: PeakCache | None = None, player: object = None):
        super().__init__()
        self.doc = doc
        self.peaks = peaks or PeakCache(doc.folder)
        self.player = player
        self.px_per_s = 40.0
        self.scroll_s = 0.0
        self.grid: Grid = Grid.BEAT
        self.selected: set[str] = set()
        self.range: tuple[float, float] | None = None
        self.expanded: set[str] = set()
        self.lint: dict[str, str] = {}  # line id -> message
        self.playhead_s = 0.0
        self.follow = True  # the view keeps the play head in sight while it plays
        self.daw_playhead = None  # () -> (seconds, rolling) | None: the DAW's play head while following it
        self.slots: dict[str, str] = {}  # take id -> "A" / "B": the takes loaded in the player
        self._drag: Drag | None = None
        self._preview = None  # a Song shown while dragging, committed on release
        self._taps: list[float] = []
        self._editor: QLineEdit | None = None
        self._wave_cache: dict[tuple, QImage] = {}
        self.edit_in_sheet = False  # the window has a lyric sheet: double-click edits there, not inline
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMouseTracking(True)
        self._known_takes: dict[str, tuple] = {}
        self._grids: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._open_newest_take()
        doc.songChanged.connect(self._open_newest_take)
        doc.songChanged.connect(self.update)
        self.peaks.ready.connect(self._peaks_ready)
        self._tick = QTimer(self)
        self._tick.timeout.connect(self._follow_player)
        self._tick.start(33)

    @Slot(str)
    def _peaks_ready(self, _key: str) -> None:
        self.update()  # a slot, not a lambda: Qt drops the connection when this widget is deleted

    @Slot()
    def _open_newest_take(self) -> None:
        """A take that just arrived shows its stem lanes (the others stay as the producer left them); a take whose
        files changed (split, locked again) has its waveforms and grid read again."""
        takes = self.doc.song.takes
        new = [t.id for t in takes if t.id not in self._known_takes]
        if new and takes[-1].id in new and takes[-1].stems:
            self.expanded.add(takes[-1].id)
        for t in takes:
            seen = self._known_takes.get(t.id)
            if seen is not None and seen != (t.stems, t.analysis):
                self.peaks.forget(t.id)
                self._grids.pop(t.id, None)
        self._known_takes = {t.id: (t.stems, t.analysis) for t in takes}
        self._fit_height()

    def _fit_height(self) -> None:
        """The least height that shows every lane (the take lanes at their own height); more is shared out."""
        need = sum(TAKE_H + (len(t.stems) * STEM_H if t.id in self.expanded else 0) for t in self.doc.song.takes)
        self.setMinimumHeight(RULER_H + SECTION_H + 2 * ROW_H + WORD_H + self.loop_lane_h() + max(need, TAKE_H))

    def take_grid(self, song, take_id: str) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        """(beats, downbeats) in song seconds from the take's grid.json (read once), mapped through its lock map
        while the song hears it locked; empty when it has no grid."""
        if take_id not in self._grids:
            from engine.errors import SongBridgeError
            from engine.grid.analyse import GRID_DIR, read_grid

            empty = (np.zeros(0), np.zeros(0))
            take = next((t for t in song.takes if t.id == take_id), None)
            if take is None or "grid" not in take.analysis:
                return empty
            try:
                g = read_grid(self.doc.folder / "takes" / take_id / GRID_DIR)
                self._grids[take_id] = (g.beats, g.downbeats)
            except SongBridgeError:
                self._grids[take_id] = empty
        beats, downs = self._grids[take_id]
        lock = next((t.analysis.get("lock") for t in song.takes if t.id == take_id), None)
        if take_id in song.locked and isinstance(lock, dict) and len(lock.get("map", [])) >= 2:
            from engine.grid.timemap import TimeMap

            rows = lock["map"]
            m = TimeMap(tuple(r[0] for r in rows), tuple(r[1] for r in rows))
            return m.to_dst(beats), m.to_dst(downs)
        return beats, downs

    # -- geometry --------------------------------------------------------------------------------------------------
    @property
    def song(self):  # type: ignore[no-untyped-def]
        return self._preview if self._preview is not None else self.doc.song

    def x_of(self, t: float) -> float:
        return LABEL_W + (t - self.scroll_s) * self.px_per_s

    def t_of(self, x: float) -> float:
        return max(0.0, self.scroll_s + (x - LABEL_W) / self.px_per_s)

    def lane_top(self, lane: str) -> int:
        if lane == "takes":
            return RULER_H + SECTION_H + self.lyric_h() + self.loop_lane_h()
        if lane == "loops":  # the Loops lane (gui.loop_lane), between the lyrics and the takes
            return RULER_H + SECTION_H + self.lyric_h()
        return {"sections": RULER_H, "lyrics": RULER_H + SECTION_H}[lane]

    def take_rows(self) -> list[tuple[str, str, int, int]]:
        """(take id, stem or "mix", top, height) for every visible take lane; the lanes grow (up to
        ``MAX_GROW`` times) to use the height below the lyrics."""
        top = self.lane_top("takes")
        base = []
        for take in reversed(self.song.takes):
            base.append((take.id, "mix", TAKE_H))
            if take.id in self.expanded:
                base += [(take.id, stem, STEM_H) for stem in take.stems]
        need = sum(h for *_, h in base)
        grow = min(MAX_GROW, max(1.0, (self.height() - top - 4) / need)) if need else 1.0
        rows, y = [], top
        for take_id, stem, h in base:
            rows.append((take_id, stem, y, int(h * grow)))
            y += int(h * grow)
        return rows

    # -- interaction -------------------------------------------------------------------------------------------
    def _grid_for(self, event) -> Grid | None:  # type: ignore[no-untyped-def]
        return None if event.modifiers() & Qt.ShiftModifier else self.grid

    def mousePressEvent(self, event: QMouseEvent) -> None:
        x, y = event.position().x(), event.position().y()
        if y < RULER_H:
            self._drag = Drag("range", x, t0=self.t_of(x))
            return
        if self.in_section_lane(y):
            hit = self.section_hit(x, y)
            self.select_section(hit[1] if hit else None)
            if hit is not None and event.button() == Qt.LeftButton:
                self._drag = Drag(hit[0], x, (hit[1],), hit[1], hit[2])
            return
        if event.button() == Qt.LeftButton and self.loop_press(x, y, Drag):
            return
        word = self.word_at(x, y)
        if word is not None:
            self._drag = Drag("word", x, (word[0],), str(word[1]))
            return
        line = self.line_at(x, y)
        if line is not None:
            if event.modifiers() & Qt.ControlModifier:
                self.selected ^= {line.id}
            elif line.id not in self.selected:
                self.selected = {line.id}
            self.selectionChanged.emit()
            kind = "stretch" if self.line_rect(line).right() - x < EDGE else "move"
            self._drag = Drag(kind, x, tuple(self.selected), line.id)
            self.update()
            return
        for tid, stem, ty, h in self.take_rows():
            if ty <= y < ty + h and x < LABEL_W and stem == "mix":
                self.expanded ^= {tid}
                self._fit_height()
                self.update()
                return
        if self.selected and not event.modifiers():
            self.selected = set()
            self.selectionChanged.emit()
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x, y = event.position().x(), event.position().y()
        d = self._drag
        if d is None:
            line = self.line_at(x, y)
            if line is not None:  # the whole line on hover (blocks cut it at narrow zooms), and its lint
                tip = line.text + (f"\n{self.lint[line.id]}" if line.id in self.lint else "")
                QToolTip.showText(event.globalPosition().toPoint(), tip, self)
            elif (clip := self.loop_at(x, y)) is not None:  # a loop clip: what it is (gui.loop_lane)
                QToolTip.showText(event.globalPosition().toPoint(), self.loop_tip(clip), self)
            shape = self.section_cursor(x, y)
            if shape is None:
                shape = Qt.SizeHorCursor if (line is not None and self.line_rect(line).right() - x < EDGE
                                             or self.word_at(x, y) is not None) else Qt.ArrowCursor
            self.setCursor(shape)
            return
        dt = (x - d.x0) / self.px_per_s
        if d.kind == "range":
            grid = self._grid_for(event)
            a, b = sorted((editing.snap(self.doc.song, d.t0, grid), editing.snap(self.doc.song, self.t_of(x), grid)))
            self.range = (a, b) if b - a > 0.01 and abs(x - d.x0) > 3 else None
        elif d.kind == "move":
            self._preview = editing.move_lines(self.doc.song, d.ids, dt, self._grid_for(event), d.anchor)
        elif d.kind == "stretch":
            self._preview = editing.set_line_end(self.doc.song, d.anchor, self.t_of(x), self._grid_for(event))
        elif d.kind == "word":
            song = self.doc.song
            grid = None if self._grid_for(event) is None else Grid.SIXTEENTH  # words snap to 1/16 (Shift: free)
            end = self.line_ends().get(d.ids[0], 0.0)
            self._preview = move_word(song, d.ids[0], int(d.anchor), editing.snap(song, self.t_of(x), grid), end)
        elif d.kind == "loop":
            self._preview = self.loop_preview(d.anchor, d.t0, x - d.x0)
        elif d.kind.startswith("section_"):
            preview = self.section_preview(d.kind, d.anchor, d.x0, x, bool(event.modifiers() & Qt.ShiftModifier))
            self._preview = preview if preview is not None and preview != self.doc.song else None
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        d, self._drag = self._drag, None
        if d is None:
            return
        if d.kind == "range":
            if self.range and abs(event.position().x() - d.x0) > 3:
                self.rangeChanged.emit(*self.range)
            else:  # a click: locate there (snapped unless Shift), and clear the selection
                self.range = None
                self.rangeCleared.emit()
                self.locate(editing.snap(self.doc.song, d.t0, self._grid_for(event)))
        elif self._preview is not None:
            preview, self._preview = self._preview, None
            text = {"move": "Move lines", "stretch": "Stretch line", "word": "Move word",
                    "section_move": "Move section", "loop": "Move loop"}.get(d.kind, "Resize section")
            self.doc.edit(preview, text)
        self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        x, y = event.position().x(), event.position().y()
        if self.section_double_click(x, y):
            return
        line = self.line_at(x, y)
        if line is None:
            return
        if self.edit_in_sheet:
            self.editLine.emit(line.id)
            return
        ed = QLineEdit(line.text, self)
        r = self.line_rect(line).toRect()
        width = max(r.width() + 120, ed.fontMetrics().horizontalAdvance(line.text) + 60, 320)
        ed.setGeometry(r.left(), r.top(), width, max(r.height(), ed.sizeHint().height()))
        ed.selectAll()
        ed.show()
        ed.setFocus()
        self._editor = ed

        def commit() -> None:
            if self._editor is ed:
                self._editor = None
                self.doc.edit(editing.set_line_text(self.doc.song, line.id, ed.text()), "Edit lyric")
                ed.deleteLater()

        ed.editingFinished.connect(commit)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if event.modifiers() & Qt.ControlModifier:
            self.zoom(1.25 ** steps, event.position().x())
        else:
            self.scroll_s = self.clamp_scroll(self.scroll_s - steps * 80 / self.px_per_s)
            self.update()

    def clamp_scroll(self, t: float) -> float:
        """Scrolling stays within the song: at most until its end sits at the middle of the view."""
        length = max(8.0, self.doc.song.duration_s, *(t.duration_s for t in self.doc.song.takes))
        visible = (self.width() - LABEL_W) / self.px_per_s
        return min(max(0.0, t), max(0.0, length - visible * 0.5))

    def fit(self) -> None:
        """Show the whole song."""
        length = max(8.0, self.doc.song.duration_s, *(t.duration_s for t in self.doc.song.takes))
        self.px_per_s = max(MIN_PX_PER_S, (max(400, self.width()) - LABEL_W - 20) / length)
        self.scroll_s = 0.0
        self.update()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not getattr(self, "_fitted", False):
            self._fitted = True
            QTimer.singleShot(0, self.restore_view)

    def view(self) -> tuple[float, float]:
        return self.px_per_s, self.scroll_s

    def restore_view(self) -> None:
        """The zoom and scroll this project was left at, else the whole song."""
        from PySide6.QtCore import QSettings

        saved = QSettings("songbridge", "songbridge").value(f"view/{self.doc.folder}")
        try:
            px, scroll = (float(v) for v in saved)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            self.fit()
            return
        self.px_per_s = min(2000.0, max(MIN_PX_PER_S, px))
        self.scroll_s = self.clamp_scroll(scroll)
        self.update()

    def remember_view(self) -> None:
        from PySide6.QtCore import QSettings

        QSettings("songbridge", "songbridge").setValue(f"view/{self.doc.folder}", [self.px_per_s, self.scroll_s])

    def zoom(self, factor: float, at_x: float | None = None) -> None:
        at_x = at_x if at_x is not None else LABEL_W + (self.width() - LABEL_W) / 2
        t = self.t_of(at_x)
        self.px_per_s = min(2000.0, max(MIN_PX_PER_S, self.px_per_s * factor))
        self.scroll_s = max(0.0, t - (at_x - LABEL_W) / self.px_per_s)
        self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key_Left, Qt.Key_Right) and self.selected:
            sign = -1 if key == Qt.Key_Left else 1
            if event.modifiers() & Qt.ShiftModifier:
                new = editing.move_lines(self.doc.song, self.selected, sign * 0.01, None)
            else:
                step = self.grid.step_quarters(self.doc.song.tempo.meter) * 60 / self.doc.song.tempo.bpm
                new = editing.move_lines(self.doc.song, self.selected, sign * step, self.grid)
            self.doc.edit(new, "Nudge lines")
        elif key in (Qt.Key_PageDown, Qt.Key_PageUp):
            page = (self.width() - LABEL_W) / self.px_per_s * 0.8
            self.scroll_s = self.clamp_scroll(self.scroll_s + (page if key == Qt.Key_PageDown else -page))
            self.update()
        elif key == Qt.Key_Home:
            self.scroll_s = 0.0
            self.update()
        elif key in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoom(1.25)
        elif key == Qt.Key_Minus:
            self.zoom(0.8)
        elif key == Qt.Key_T:
            self.tap(self.playhead_s, None if event.modifiers() & Qt.ShiftModifier else self.grid)
        elif key in (Qt.Key_Return, Qt.Key_Escape) and self._taps:
            self.finish_taps()
        else:
            super().keyPressEvent(event)

    # -- tap to time ---------------------------------------------------------------------------------------------
    def tap_order(self) -> list[str]:
        """Lines in lyric order starting at the first selected one (or the first line)."""
        lines = [ln.id for ln in self.doc.song.lyrics if ln.text.strip()]
        start = next((i for i, lid in enumerate(lines) if lid in self.selected), 0)
        return lines[start:]

    def tap(self, t: float, grid: Grid | None) -> None:
        if not self._taps:
            self._tap_base = self.doc.song
            self._tap_order = self.tap_order()
            self._tap_grid = grid
        self._taps.append(t)
        self._preview = editing.tap_times(self._tap_base, self._tap_order, self._taps, grid)
        if len(self._taps) >= len(self._tap_order):
            self.finish_taps()
        self.update()

    def finish_taps(self) -> None:
        """All taps of a pass become one undoable step."""
        if not self._taps:
            return
        new = editing.tap_times(self._tap_base, self._tap_order, self._taps, self._tap_grid)
        self._taps, self._preview = [], None
        self.doc.edit(new, "Tap to time")
        self.update()

    def locate(self, t: float) -> None:
        """Move the play head (and the player, when there is one) to ``t`` seconds."""
        self.playhead_s = max(0.0, t)
        if self.player is not None and hasattr(self.player, "seek"):
            self.player.seek(self.playhead_s)
        self.keep_in_view(self.playhead_s)
        self.located.emit(self.playhead_s)
        self.playheadMoved.emit(self.playhead_s)
        self.update()

    def keep_in_view(self, t: float) -> None:
        """Scroll so ``t`` is on screen (a page at a time, as a DAW's editor follows its play head)."""
        visible = max(1e-3, (self.width() - LABEL_W) / self.px_per_s)
        if t < self.scroll_s or t > self.scroll_s + visible * 0.95:
            self.scroll_s = max(0.0, t - visible * 0.05)

    def _follow_player(self) -> None:
        daw = self.daw_playhead() if self.daw_playhead is not None else None  # following the DAW: its play head
        if daw is not None:
            t, rolling = daw
        elif self.player is None:
            return
        else:
            t, rolling = float(getattr(self.player, "position_s", 0.0)), getattr(self.player, "state", "") == "playing"
        if abs(t - self.playhead_s) > 1e-3:
            self.playhead_s = t
            if self.follow and rolling:
                self.keep_in_view(t)
            self.playheadMoved.emit(t)
            self.update()
