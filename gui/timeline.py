"""The timeline: a ruler in bars|beats with seconds below, the section lane, the lyric lane (drag to move with
snapping, Shift for free, right edge to stretch, double-click to edit text, arrows to nudge, T to tap-time), take
lanes with waveforms (expandable per stem), a playhead and a time-range selection. Painting only draws what is
visible and reads precomputed peaks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QLineEdit, QToolTip, QWidget

from engine.song.tempo import Grid

from . import editing
from .document import DocumentModel
from .peaks import PeakCache
from .timeline_paint import EDGE, LABEL_W, LYRIC_H, RULER_H, SECTION_H, STEM_H, TAKE_H, TimelinePainting

MIN_PX_PER_S = 0.25  # zoomed out far enough for an hour-long song


@dataclass
class Drag:
    kind: str  # move | stretch | range | section_start | section_end
    x0: float
    ids: tuple[str, ...] = ()
    anchor: str = ""
    t0: float = 0.0


class Timeline(TimelinePainting, QWidget):
    selectionChanged = Signal()
    rangeChanged = Signal(float, float)
    rangeCleared = Signal()
    located = Signal(float)  # a click in the ruler moved the play head here

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
        self.slots: dict[str, str] = {}  # take id -> "A" / "B": the takes loaded in the player
        self._drag: Drag | None = None
        self._preview = None  # a Song shown while dragging, committed on release
        self._taps: list[float] = []
        self._editor: QLineEdit | None = None
        self._wave_cache: dict[tuple, QImage] = {}
        self.setMinimumHeight(RULER_H + SECTION_H + LYRIC_H + TAKE_H)
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

    def take_grid(self, song, take_id: str) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        """(beats, downbeats) in song seconds from the take's grid.json (read once), mapped through its lock map
        while the song hears it locked; empty when it has no grid."""
        if take_id not in self._grids:
            from engine.errors import SongBridgeError  # noqa: PLC0415
            from engine.grid.analyse import GRID_DIR, read_grid  # noqa: PLC0415

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
            from engine.grid.timemap import TimeMap  # noqa: PLC0415

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
        return {"sections": RULER_H, "lyrics": RULER_H + SECTION_H, "takes": RULER_H + SECTION_H + LYRIC_H}[lane]

    def take_rows(self) -> list[tuple[str, str, int, int]]:
        """(take id, stem or "mix", top, height) for every visible take lane."""
        rows, y = [], self.lane_top("takes")
        for take in reversed(self.song.takes):
            rows.append((take.id, "mix", y, TAKE_H))
            y += TAKE_H
            if take.id in self.expanded:
                for stem in take.stems:
                    rows.append((take.id, stem, y, STEM_H))
                    y += STEM_H
        return rows

    def line_rect(self, line, ends: dict[str, float] | None = None) -> QRectF:  # type: ignore[no-untyped-def]
        end = (ends or self.line_ends()).get(line.id, line.start_s + 2.0)
        x0, x1 = self.x_of(line.start_s), self.x_of(end)
        # at least 3 px and a 1 px gap: hundreds of lines zoomed out stay separate marks, not one slab
        return QRectF(x0, self.lane_top("lyrics") + 3, max(3.0, x1 - x0 - 1), LYRIC_H - 6)

    def line_ends(self) -> dict[str, float]:
        """Where each timed line's block ends: its own end, else its last word's stamp plus a beat, else about
        how long it takes to sing (a third of a second a syllable, a beat at least), never past the next line's
        start: a line without an end does not span an instrumental gap."""
        timed = self.song.timed_lines()
        beat = 60.0 / max(1.0, self.song.tempo.bpm)
        ends = {}
        for i, ln in enumerate(timed):
            nxt = timed[i + 1].start_s if i + 1 < len(timed) else None
            if ln.end_s is not None:
                ends[ln.id] = ln.end_s
                continue
            if ln.words:
                sung = max(w.start_s for w in ln.words) + beat
            else:
                syllables = max(1, sum(1 for ch in ln.text.lower() if ch in "aeiouy"))
                sung = ln.start_s + max(beat, 0.33 * syllables)
            ends[ln.id] = min(sung, nxt) if nxt is not None else sung
        return ends

    def line_at(self, x: float, y: float):  # type: ignore[no-untyped-def]
        top = self.lane_top("lyrics")
        if not top <= y < top + LYRIC_H:
            return None
        ends = self.line_ends()
        for ln in reversed(self.song.timed_lines()):
            if self.line_rect(ln, ends).contains(QPointF(x, y)):
                return ln
        return None

    # -- interaction -------------------------------------------------------------------------------------------
    def _grid_for(self, event) -> Grid | None:  # type: ignore[no-untyped-def]
        return None if event.modifiers() & Qt.ShiftModifier else self.grid

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        x, y = event.position().x(), event.position().y()
        if y < RULER_H:
            self._drag = Drag("range", x, t0=self.t_of(x))
            return
        sec_top = self.lane_top("sections")
        if sec_top <= y < sec_top + SECTION_H:
            for s in self.doc.song.sections:
                for edge, t in (("section_start", s.start_s), ("section_end", s.end_s)):
                    if abs(self.x_of(t) - x) <= EDGE:
                        self._drag = Drag(edge, x, (s.id,), s.id, t)
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
                self.update()
                return
        if self.selected and not event.modifiers():
            self.selected = set()
            self.selectionChanged.emit()
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        x, y = event.position().x(), event.position().y()
        d = self._drag
        if d is None:
            line = self.line_at(x, y)
            if line is not None:  # the whole line on hover (blocks cut it at narrow zooms), and its lint
                tip = line.text + (f"\n{self.lint[line.id]}" if line.id in self.lint else "")
                QToolTip.showText(event.globalPosition().toPoint(), tip, self)
            self.setCursor(Qt.SizeHorCursor if line is not None and self.line_rect(line).right() - x < EDGE
                           else Qt.ArrowCursor)
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
        elif d.kind in ("section_start", "section_end"):
            sec = self.doc.song.section(d.anchor)
            t = editing.snap(self.doc.song, self.t_of(x), None if event.modifiers() & Qt.ShiftModifier else Grid.BAR)
            a, b = (t, sec.end_s) if d.kind == "section_start" else (sec.start_s, t)
            if b - a > 0.1:
                self._preview = editing.set_section_bounds(self.doc.song, d.anchor, a, b)
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
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
            text = {"move": "Move lines", "stretch": "Stretch line"}.get(d.kind, "Resize section")
            self.doc.edit(preview, text)
        self.update()

    def section_at(self, x: float, y: float):  # type: ignore[no-untyped-def]
        top = self.lane_top("sections")
        if not top <= y < top + SECTION_H:
            return None
        t = self.t_of(x)
        return next((s for s in self.doc.song.sections if s.start_s <= t < s.end_s), None)

    def contextMenuEvent(self, event) -> None:  # noqa: N802
        from PySide6.QtWidgets import QInputDialog, QMenu  # noqa: PLC0415

        x, y = event.pos().x(), event.pos().y()
        if not self.lane_top("sections") <= y < self.lane_top("sections") + SECTION_H:
            return
        sec = self.section_at(x, y)
        menu = QMenu(self)
        add = menu.addAction("Add section here (4 bars)")
        rename = menu.addAction("Rename…") if sec else None
        remove = menu.addAction("Remove section") if sec else None
        chosen = menu.exec(event.globalPos())
        if chosen is None:
            return
        if chosen is add:
            name, ok = QInputDialog.getText(self, "New section", "Name:", text="Bridge")
            if ok and name.strip():
                self.doc.edit(editing.add_section(self.doc.song, name.strip(), self.t_of(x)), "Add section")
        elif chosen is rename and sec is not None:
            self.rename_section(sec.id)
        elif chosen is remove and sec is not None:
            self.doc.edit(editing.remove_section(self.doc.song, sec.id), "Remove section")

    def rename_section(self, section_id: str) -> None:
        from PySide6.QtWidgets import QInputDialog  # noqa: PLC0415

        sec = self.doc.song.section(section_id)
        name, ok = QInputDialog.getText(self, "Rename section", "Name:", text=sec.name)
        if ok and name.strip():
            self.doc.edit(editing.rename_section(self.doc.song, section_id, name.strip()), "Rename section")

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        sec = self.section_at(event.position().x(), event.position().y())
        if sec is not None:
            self.rename_section(sec.id)
            return
        line = self.line_at(event.position().x(), event.position().y())
        if line is None:
            return
        ed = QLineEdit(line.text, self)
        ed.setGeometry(self.line_rect(line).toRect().adjusted(0, 0, 120, 0))
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

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
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

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not getattr(self, "_fitted", False):
            self._fitted = True
            QTimer.singleShot(0, self.restore_view)

    def view(self) -> tuple[float, float]:
        return self.px_per_s, self.scroll_s

    def restore_view(self) -> None:
        """The zoom and scroll this project was left at, else the whole song."""
        from PySide6.QtCore import QSettings  # noqa: PLC0415

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
        from PySide6.QtCore import QSettings  # noqa: PLC0415

        QSettings("songbridge", "songbridge").setValue(f"view/{self.doc.folder}", [self.px_per_s, self.scroll_s])

    def zoom(self, factor: float, at_x: float | None = None) -> None:
        at_x = at_x if at_x is not None else LABEL_W + (self.width() - LABEL_W) / 2
        t = self.t_of(at_x)
        self.px_per_s = min(2000.0, max(MIN_PX_PER_S, self.px_per_s * factor))
        self.scroll_s = max(0.0, t - (at_x - LABEL_W) / self.px_per_s)
        self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
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
        self.update()

    def keep_in_view(self, t: float) -> None:
        """Scroll so ``t`` is on screen (a page at a time, as a DAW's editor follows its play head)."""
        visible = max(1e-3, (self.width() - LABEL_W) / self.px_per_s)
        if t < self.scroll_s or t > self.scroll_s + visible * 0.95:
            self.scroll_s = max(0.0, t - visible * 0.05)

    def _follow_player(self) -> None:
        if self.player is None:
            return
        t = float(getattr(self.player, "position_s", 0.0))
        if abs(t - self.playhead_s) > 1e-3:
            self.playhead_s = t
            if self.follow and getattr(self.player, "state", "") == "playing":
                self.keep_in_view(t)
            self.update()
