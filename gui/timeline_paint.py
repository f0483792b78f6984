"""Painting the timeline: the ruler (bars and beats in a top band, minutes:seconds in a band of their own), sticky
section names (the selected section outlined), take lanes labelled with the take's name, waveforms (each stem lane
at its own scale), the selection and the play head; the lyric lane is ``gui.lyric_lane``. Only what is visible is
drawn, from precomputed peaks."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

from engine.song.tempo import Grid

from . import theme
from .peaks import PEAKS_PER_S

LABEL_W = 96
RULER_H = 40
BAND = 26  # the ruler's bars band ends here; the seconds band is below
SECTION_H = 26
TAKE_H = 58
STEM_H = 30
EDGE = 6


class TimelinePainting:
    """Mixed into :class:`gui.timeline.Timeline` (it has the geometry: ``x_of``, ``lane_top``, ``take_rows`` ...)."""

    # -- painting -----------------------------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), theme.BG)
        song = self.song
        t0, t1 = self.t_of(LABEL_W), self.t_of(self.width())
        self._paint_ruler(p, song, t0, t1)
        self._paint_sections(p, song)
        self._paint_lyrics(p, song, t0, t1)
        self._paint_takes(p, song)
        if self.range is not None:
            a, b = (self.x_of(t) for t in self.range)
            p.fillRect(QRectF(a, 0, b - a, self.height()), theme.SELECT)
        x = self.x_of(self.playhead_s)
        if x >= LABEL_W:
            p.setPen(QPen(theme.PLAYHEAD, 1.5))
            p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.fillRect(QRectF(0, 0, LABEL_W, self.height()), theme.PANEL)
        p.setPen(theme.DIM)
        labels = [("bars | s", 0, RULER_H), ("Sections", RULER_H, SECTION_H), *self.lyric_label_rows()]
        names = {t.id: t.name or t.id for t in song.takes}
        has_stems = {t.id for t in song.takes if t.stems}
        fold = {tid: ("▾ " if tid in self.expanded else "▸ ") if tid in has_stems else "" for tid in names}
        labels += [(fold.get(tid, "") + names.get(tid, tid) if stem == "mix" else f"    {stem}", y, h)
                   for tid, stem, y, h in self.take_rows()]
        for text, y, h in labels:
            p.drawText(QRectF(8, y, LABEL_W - 12, h), Qt.AlignVCenter | Qt.AlignLeft, text)
        heard = getattr(self.player, "active", "A")
        for tid, stem, y, _h in self.take_rows():
            side = self.slots.get(tid)
            if stem != "mix" or side is None:
                continue
            badge = QRectF(LABEL_W - 24, y + 4, 18, 16)
            if side == heard:
                p.fillRect(badge, theme.ACCENT)
                p.setPen(QColor("#0b0d10"))
            else:
                p.setPen(theme.ACCENT)
                p.drawRect(badge)
            p.drawText(badge, Qt.AlignCenter, side)  # A/B on the lanes: which take is which, and the one heard
        p.end()

    def _paint_ruler(self, p: QPainter, song, t0: float, t1: float) -> None:  # type: ignore[no-untyped-def]
        p.fillRect(QRectF(LABEL_W, 0, self.width(), RULER_H), theme.PANEL)
        tm = song.tempo
        bar_px = tm.bar_length_s(1) * self.px_per_s
        every = max(1, 2 ** math.ceil(math.log2(max(1.0, 60.0 / bar_px))))
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() - 1.5))
        p.setFont(small)
        for t in tm.grid_lines(t0, t1, Grid.BAR):
            bar = round(tm.seconds_to_bars(t))
            x = self.x_of(t)
            major = (bar - 1) % every == 0
            if not major and bar_px < 5:
                continue  # zoomed far out: a tick per bar would be a comb; the numbered bars are enough
            p.setPen(QPen(theme.TEXT if major else theme.DIM, 1))
            p.drawLine(QPointF(x, 2 if major else 14), QPointF(x, BAND))  # bar ticks stay in the bars band
            if major:
                p.drawText(QPointF(x + 3, 12), str(bar))
            if bar_px > 40:
                p.setPen(QPen(QColor(255, 255, 255, 40), 1))
                for b in range(1, tm.meter_at(t).numerator):
                    bx = self.x_of(tm.bbt_to_seconds(bar, b + 1))
                    p.drawLine(QPointF(bx, 18), QPointF(bx, BAND))
        p.setPen(QPen(QColor(255, 255, 255, 30), 1))
        p.drawLine(QPointF(LABEL_W, BAND), QPointF(self.width(), BAND))
        # seconds in their own band below, spaced so their labels never touch (no barcode on long songs)
        label_px = p.fontMetrics().horizontalAdvance("00:00") + 12
        step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600) if s * self.px_per_s >= label_px), 1200)
        for s in range(int(t0 // step) * step, int(t1) + step, step):
            x = self.x_of(s)
            if x >= LABEL_W:
                p.setPen(theme.DIM)
                p.drawLine(QPointF(x, BAND), QPointF(x, BAND + 3))
                p.drawText(QPointF(x + 2, RULER_H - 3), f"{s // 60}:{s % 60:02d}")
        p.setFont(self.font())

    def _paint_sections(self, p: QPainter, song) -> None:  # type: ignore[no-untyped-def]
        from engine.comp import section_takes

        y = self.lane_top("sections")
        p.fillRect(QRectF(LABEL_W, y, self.width(), SECTION_H), theme.LANE)
        chosen = section_takes(song)
        for s in song.sections:
            r = QRectF(self.x_of(s.start_s), y + 2, (s.end_s - s.start_s) * self.px_per_s - 1, SECTION_H - 4)
            if r.right() < LABEL_W or r.left() > self.width():
                continue
            p.fillRect(r, QColor(s.color or "#607080"))
            if s.id == getattr(self, "selected_section", None):
                p.setPen(QPen(theme.PLAYHEAD, 2))
                p.drawRect(r.adjusted(1, 1, -1, -1))
            p.setPen(theme.TEXT)
            name = QRectF(max(r.left(), LABEL_W) + 4, r.top(), r.right() - max(r.left(), LABEL_W) - 6, r.height())
            take = chosen.get(s.id)
            if take is not None:  # comping: the section names the take it plays (render and landing use it)
                p.fillRect(QRectF(r.left(), r.bottom() - 3, r.width(), 3), theme.TEXT)
                label = f"{s.name}  ▸ {take.name or take.id}"
            else:
                label = s.name
            p.drawText(name, Qt.AlignVCenter | Qt.AlignLeft, label)  # the name stays in view while its start scrolls off

    def _paint_takes(self, p: QPainter, song) -> None:  # type: ignore[no-untyped-def]
        if not song.takes:  # the empty lanes say how to fill them
            p.setPen(theme.DIM)
            p.drawText(QRectF(LABEL_W + 12, self.lane_top("takes") + 8, self.width() - LABEL_W - 24, 40),
                       Qt.AlignLeft | Qt.AlignTop, "No takes yet: Generate song (in the Generate panel) makes the "
                       "first one; its mix and stems appear here.")
        for take_id, stem, y, h in self.take_rows():
            p.fillRect(QRectF(LABEL_W, y + 1, self.width(), h - 2), theme.LANE)
            locked = take_id in song.locked
            peaks = self.peaks.get(take_id, stem, locked)
            if stem == "mix":
                self._paint_edits(p, song, take_id, y, h)
                self._paint_grid(p, song, take_id, y, h)
            if peaks is None or not len(peaks):
                if self.peaks.loading(take_id, stem, locked):
                    p.setPen(theme.DIM)
                    p.drawText(QRectF(LABEL_W + 8, y, 300, h), Qt.AlignVCenter | Qt.AlignLeft, "loading waveform…")
                continue
            x0 = max(LABEL_W, int(self.x_of(0.0)))
            x1 = min(self.width(), int(self.x_of(len(peaks) / PEAKS_PER_S)))
            if x1 - x0 < 2:
                continue
            key = (take_id, stem, locked, x0, x1, h, round(self.px_per_s, 6), round(self.scroll_s, 6), len(peaks))
            img = self._wave_cache.get(key)
            if img is None:
                xs = np.arange(x0, x1 + 1)
                idx = np.minimum(((self.t_of_array(xs)) * PEAKS_PER_S).astype(np.int64), len(peaks) - 1)
                lo = np.minimum.reduceat(peaks[:, 0], idx[:-1])
                hi = np.maximum.reduceat(peaks[:, 1], idx[:-1])
                if stem != "mix":  # each stem lane at its own scale, so a quiet stem is still visible
                    scale = 1.0 / max(1e-4, float(np.abs(peaks).max()))
                    lo, hi = lo * scale, hi * scale
                color = theme.ACCENT if stem == "mix" else theme.ACCENT.darker(140)
                img = waveform_image(lo, hi, h - 2, color)
                if len(self._wave_cache) > 64:
                    self._wave_cache.clear()
                self._wave_cache[key] = img
            p.drawImage(QPointF(x0, y + 1), img)
        self._paint_lineage(p, song)

    def edited_bands(self, song, take_id: str, y: float, h: float) -> list[QRectF]:  # type: ignore[no-untyped-def]
        """Where an edited take's regenerated ranges are on its lane (empty for a take that is not an edit)."""
        try:
            take = song.take(take_id)
        except KeyError:
            return []
        return [QRectF(self.x_of(r.start_s), y + 1, (r.end_s - r.start_s) * self.px_per_s, h - 2)
                for r in take.edited_ranges] if take.parent else []

    def _paint_edits(self, p: QPainter, song, take_id: str, y: float, h: float) -> None:  # type: ignore[no-untyped-def]
        """An edited take's regenerated ranges as tinted bands with edges, and the take it came from named."""
        bands = self.edited_bands(song, take_id, y, h)
        if not bands:
            return
        tint = QColor(theme.WARN)
        tint.setAlpha(55)
        for band in bands:
            if band.right() < LABEL_W or band.left() > self.width():
                continue
            p.fillRect(band, tint)

    def _paint_lineage(self, p: QPainter, song) -> None:  # type: ignore[no-untyped-def]
        """Over an edited take's waveform: the edges of its regenerated ranges, and top left the take it came from
        and the bars regenerated."""
        from .take_tools import lineage_text

        small = QFont(self.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() - 1))
        p.setFont(small)
        for take_id, stem, y, h in self.take_rows():
            take = next((t for t in song.takes if t.id == take_id), None)
            if stem != "mix" or take is None or not take.parent:
                continue
            p.setPen(QPen(theme.WARN, 2))  # the edges over the waveform: where the seams are
            for band in self.edited_bands(song, take_id, y, h):
                for x in (band.left(), band.right()):
                    if LABEL_W <= x <= self.width():
                        p.drawLine(QPointF(x, band.top()), QPointF(x, band.bottom()))
            text = "edit of" + lineage_text(take).removeprefix(" ←")
            box = QRectF(LABEL_W + 6, y + 4, p.fontMetrics().horizontalAdvance(text) + 12,
                         p.fontMetrics().height() + 4)
            p.fillRect(box, QColor(0, 0, 0, 170))
            p.setPen(theme.WARN)
            p.drawText(box, Qt.AlignCenter, text)
        p.setFont(self.font())

    def _paint_grid(self, p: QPainter, song, take_id: str, y: float, h: float) -> None:  # type: ignore[no-untyped-def]
        """The take's measured beats (faint) and downbeats behind its waveform; where it is heard locked, where
        they sit after locking (on the project's bar lines)."""
        beats, downs = self.take_grid(song, take_id)
        if not beats.size or self.px_per_s * float(np.median(np.diff(beats)) if beats.size > 1 else 1) < 4:
            return  # too dense to read
        t0, t1 = self.t_of(LABEL_W), self.t_of(self.width())
        for times, color in ((beats, theme.DIM.darker(160)), (downs, theme.PLAYHEAD.darker(170))):
            p.setPen(QPen(color, 1))
            for t in times[(times >= t0) & (times <= t1)]:
                x = self.x_of(float(t))
                p.drawLine(QPointF(x, y + 2), QPointF(x, y + h - 2))

    def t_of_array(self, xs: np.ndarray) -> np.ndarray:
        return np.maximum(0.0, self.scroll_s + (xs - LABEL_W) / self.px_per_s)



def waveform_image(lo: np.ndarray, hi: np.ndarray, height: int, color: QColor) -> QImage:
    """A column per pixel from ``lo`` to ``hi`` (-1..1), drawn with numpy into an ARGB image (fast to repaint)."""
    w = len(lo)
    mid, amp = (height - 1) / 2, (height - 2) / 2
    top = np.clip(np.floor(mid - hi * amp), 0, height - 1).astype(np.int32)
    bottom = np.clip(np.ceil(mid - lo * amp), 0, height - 1).astype(np.int32)
    rows = np.arange(height, dtype=np.int32)[:, None]
    mask = (rows >= top[None, :]) & (rows <= bottom[None, :])
    argb = np.uint32(color.rgba())
    buf = np.where(mask, argb, np.uint32(0)).astype(np.uint32)
    img = QImage(buf.data, w, height, w * 4, QImage.Format_ARGB32)
    return img.copy()  # own the pixels (buf is freed)
