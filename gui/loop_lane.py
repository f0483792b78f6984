"""The Loops lane of the timeline: each loop clip drawn at its bar, its length in bars, with its prompt and its
waveform. Drag a clip to move it (snapped to bars; one undoable "Move loop" edit on release; a bar at or past the song's
end is refused: the clip snaps back and the status bar says why); a click selects a clip (what the Loops menu acts
on; else the clip at the play head); right-click for the Loops menu's rows acting on the clip (``gui.actions.table``:
Play from its bar, Move to the play head, Land in DAW). The lane is there when the song has loops.

Mixed into :class:`gui.timeline.Timeline`, which has the geometry (``x_of``, ``t_of``, ``lane_top``) and the drag
state; painting adds to the timeline's own paint (this class comes first in its bases)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QMenu

from . import theme
from .peaks import PEAKS_PER_S
from .timeline_paint import LABEL_W

LOOP_H = 34
LOOP_FILL = QColor("#3b6e4f")
LOOP_EDGE = QColor("#7bd88f")


@dataclass(frozen=True)
class LoopItem:
    """A loop clip as the lane draws it: where (song seconds, bars) and its rectangle in widget pixels."""

    loop_id: str
    bar: float
    bars: float
    start_s: float
    end_s: float
    rect: QRectF
    label: str


def loop_span(song: Any, loop: Any) -> tuple[float, float, float]:
    """(start s, end s, length in bars) of a loop clip: from its bar on the song's tempo map for as long as its
    audio plays (a loop made at the song's tempo is exactly its bars long), its asked bar count when it has one."""
    tm = song.tempo
    start = tm.bars_to_seconds(loop.bar)
    if loop.duration_s > 0:
        end = start + loop.duration_s
    else:
        end = tm.bars_to_seconds(loop.bar + (loop.bars or 1.0))
    return start, end, loop.bars if loop.bars is not None else tm.seconds_to_bars(end) - loop.bar


def snap_bar(song: Any, start_s: float) -> float:
    """The whole bar (>= 1) nearest ``start_s``."""
    return float(max(1, round(song.tempo.seconds_to_bars(max(0.0, start_s)))))


def past_end(song: Any, bar: float) -> str:
    """Why a loop cannot go at ``bar`` (it starts at or past the song's end, as ``songbridge loop --at-bar``
    refuses), or "" when it can; a song with no length yet (loops only) takes any bar."""
    end = song.duration_s
    if end <= 0 or song.tempo.bars_to_seconds(bar) < end - 1e-6:
        return ""
    return f"bar {bar:g} is past the end of the song (it ends at bar {song.tempo.seconds_to_bars(end):.4g})"


class LoopLane:
    doc: Any
    song: Any
    peaks: Any
    playhead_s: float
    px_per_s: float
    selected_loop: str | None = None  # the clip last clicked: what the Loops menu acts on

    # -- geometry --------------------------------------------------------------------------------------------------
    def loop_lane_h(self) -> int:
        return LOOP_H if self.song.loops else 0

    def in_loop_lane(self, y: float) -> bool:
        top = self.lane_top("loops")  # type: ignore[attr-defined]
        return top <= y < top + self.loop_lane_h()

    def loop_items(self) -> list[LoopItem]:
        song = self.song
        top = self.lane_top("loops")  # type: ignore[attr-defined]
        items = []
        for lp in song.loops:
            start, end, bars = loop_span(song, lp)
            x0 = self.x_of(start)  # type: ignore[attr-defined]
            rect = QRectF(x0, top + 2, max(3.0, (end - start) * self.px_per_s - 1), LOOP_H - 4)
            items.append(LoopItem(lp.id, lp.bar, bars, start, end, rect, f"{lp.prompt} · {bars:.3g} bars"))
        return items

    def loop_at(self, x: float, y: float) -> LoopItem | None:
        if not self.in_loop_lane(y) or x < LABEL_W:
            return None
        for item in reversed(self.loop_items()):  # the one drawn on top
            if item.rect.left() <= x <= item.rect.right():
                return item
        return None

    def current_loop(self) -> str | None:
        """The clip the Loops menu acts on: the one selected in the lane, else the one at the play head."""
        ids = [lp.id for lp in self.song.loops]
        if self.selected_loop in ids:
            return self.selected_loop
        here = [lp.id for lp in self.song.loops
                if loop_span(self.song, lp)[0] <= self.playhead_s < loop_span(self.song, lp)[1]]
        return here[-1] if here else None

    def loop_tip(self, item: LoopItem) -> str:
        lp = self.song.loop(item.loop_id)
        bpm = f" at {lp.bpm:g} bpm" if lp.bpm else ""
        return (f"{lp.prompt}\n{item.loop_id}: bar {lp.bar:g}, {item.bars:.3g} bars{bpm} · {lp.backend}, seed "
                f"{lp.seed}\ndrag to move (bars) · right-click: play, move, land")

    # -- interaction (called from the timeline's mouse handlers) ---------------------------------------------------
    def loop_press(self, x: float, y: float, drag_type: Any) -> bool:
        item = self.loop_at(x, y)
        if item is None:
            return self.in_loop_lane(y) and x >= LABEL_W  # an empty spot of the lane: nothing else there
        self._drag = drag_type("loop", x, (item.loop_id,), item.loop_id, item.start_s)  # type: ignore[attr-defined]
        self.selected_loop = item.loop_id
        return True

    def loop_preview(self, loop_id: str, start_s: float, dx: float) -> Any:
        """The song with the dragged loop at the bar nearest where it is dropped (None: not moved)."""
        song = self.doc.song
        bar = snap_bar(song, start_s + dx / self.px_per_s)
        if bar == song.loop(loop_id).bar:
            return None
        why = past_end(song, bar)
        if why:  # the clip snaps back; the reason in the status bar
            self.message.emit(f"a loop cannot go there: {why}")  # type: ignore[attr-defined]
            return None
        return song.with_loop_at(loop_id, bar)

    def move_loop(self, loop_id: str, bar: float) -> bool:
        """Move a loop clip to ``bar`` (an undoable edit); False when it is there already."""
        song = self.doc.song
        if song.loop(loop_id).bar == bar:
            return False
        why = past_end(song, bar)
        if why:
            self.message.emit(f"a loop cannot go there: {why}")  # type: ignore[attr-defined]
            return False
        self.doc.edit(song.with_loop_at(loop_id, bar), "Move loop")
        return True

    def contextMenuEvent(self, event: Any) -> None:  # Qt's name
        from .actions.items import exec_once

        x, y = event.pos().x(), event.pos().y()
        item = self.loop_at(x, y)
        if item is None:
            super().contextMenuEvent(event)  # type: ignore[misc]
            return
        exec_once(self.loop_menu(item), event.globalPos())

    def loop_menu(self, item: LoopItem) -> QMenu:
        """A clip's right-click menu: the clip becomes the selected one, and the Loops menu's rows act on it."""
        from .actions.items import item_menu
        from .actions.spec import Target

        self.selected_loop = item.loop_id
        win = self.window()  # type: ignore[attr-defined]
        return item_menu(self, win, Target("loop", item.loop_id, self.playhead_s, self))

    # -- painting ----------------------------------------------------------------------------------------------------
    def paintEvent(self, event: Any) -> None:
        super().paintEvent(event)  # type: ignore[misc]
        if not self.song.loops:
            return
        p = QPainter(self)  # type: ignore[arg-type]
        try:
            self.paint_loops(p)
        finally:
            p.end()

    def paint_loops(self, p: QPainter) -> None:
        top = self.lane_top("loops")  # type: ignore[attr-defined]
        width = self.width()  # type: ignore[attr-defined]
        p.fillRect(QRectF(LABEL_W, top, width, LOOP_H), theme.LANE)
        p.setClipRect(QRectF(LABEL_W, top, width - LABEL_W, LOOP_H))
        for item in self.loop_items():
            r = item.rect
            if r.right() < LABEL_W or r.left() > width:
                continue
            p.fillRect(r, LOOP_FILL)
            self._paint_loop_wave(p, item)
            p.setPen(QPen(LOOP_EDGE, 2.5 if item.loop_id == self.selected_loop else 1))
            p.drawRect(r)
            p.setPen(theme.TEXT)
            text = QRectF(max(r.left(), LABEL_W) + 4, r.top(), r.right() - max(r.left(), LABEL_W) - 6, r.height())
            p.drawText(text, Qt.AlignVCenter | Qt.AlignLeft, item.label)
        x = self.x_of(self.playhead_s)  # type: ignore[attr-defined]
        if x >= LABEL_W:
            p.setPen(QPen(theme.PLAYHEAD, 1.5))
            p.drawLine(QPointF(x, top), QPointF(x, top + LOOP_H))
        p.setClipping(False)
        p.fillRect(QRectF(0, top, LABEL_W, LOOP_H), theme.PANEL)
        p.setPen(theme.DIM)
        p.drawText(QRectF(8, top, LABEL_W - 12, LOOP_H), Qt.AlignVCenter | Qt.AlignLeft, "Loops")

    def _paint_loop_wave(self, p: QPainter, item: LoopItem) -> None:
        peaks = self.peaks.get(item.loop_id, "mix", item.loop_id in self.song.locked)
        if peaks is None or not len(peaks):
            return
        r = item.rect
        xs = np.arange(int(max(r.left(), LABEL_W)), int(r.right()))
        if not len(xs):
            return
        idx = np.clip(((xs - r.left()) / self.px_per_s * PEAKS_PER_S).astype(np.int64), 0, len(peaks) - 1)
        mid, half = r.center().y(), r.height() / 2 - 2
        half /= max(1e-4, float(np.abs(peaks).max()))  # each clip at its own scale, so a quiet loop still shows
        p.setPen(QPen(LOOP_EDGE.darker(130), 1))
        for x, i in zip(xs, idx, strict=True):
            lo, hi = float(peaks[i, 0]), float(peaks[i, 1])
            p.drawLine(QPointF(x, mid - hi * half), QPointF(x, mid - lo * half))
