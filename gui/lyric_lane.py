"""The lyric lane of the timeline: where each line's block is, and how it is drawn so that it can be read.

When the lines in view are too close for their text, the lane grows to two rows and the lines alternate between
them, so each line's text has the room up to the next line on its row; the text wraps onto a second line within
its row and is cut (with "…") only after that. Zoomed in far enough (``WORD_VIEW_PX``), a row of words appears
below: each word at its time (the line's own word stamps, or an estimate spread by syllables, drawn hollow),
its syllables marked, and a word can be dragged to retime it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPen

from engine.song.word_times import syllables, words_of

from . import theme
from .timeline_paint import LABEL_W, RULER_H, SECTION_H

ROW_H = 46  # a row of line blocks: two lines of text, the lint stripe and word ticks
WORD_H = 40  # the word row of the word view
WORD_VIEW_PX = 80.0  # pixels per second from which the word view shows (about a word's width per word)
TEXT_PAD = 4


def wrap(fm: QFontMetricsF, text: str, width: float, max_lines: int = 2) -> list[str]:
    """``text`` in at most ``max_lines`` lines of ``width`` pixels, word by word; the last one elided."""
    if width <= 0:
        return []
    lines: list[str] = []
    words = text.split()
    current = ""
    while words:
        candidate = f"{current} {words[0]}".strip()
        if fm.horizontalAdvance(candidate) <= width or not current:
            current = candidate
            words.pop(0)
            continue
        lines.append(current)
        current = ""
        if len(lines) == max_lines - 1:
            break
    rest = " ".join([current, *words]).strip() if current or words else ""
    if rest:
        lines.append(rest)
    return [t for t in (fm.elidedText(ln, Qt.ElideRight, width) for ln in lines[:max_lines]) if t]


class LyricLane:
    """Mixed into :class:`gui.timeline.Timeline` (it has ``x_of``, ``lane_top``, ``song``, ``px_per_s`` ...)."""

    _lyric_cache: tuple | None = None

    # -- layout ---------------------------------------------------------------------------------------------------
    def word_view(self) -> bool:
        return self.px_per_s >= WORD_VIEW_PX

    def lyric_layout(self) -> tuple[int, dict[str, int]]:
        """(rows, row of each sung line): two rows when the text of a line in view does not fit before the next
        line starts."""
        song = self.song
        key = (song.lyrics, song.tempo, self.px_per_s, self.scroll_s, self.width(), self.font().key())
        if self._lyric_cache is not None and self._lyric_cache[0] == key:
            return self._lyric_cache[1]
        sung = [ln for ln in song.timed_lines() if ln.text.strip()]
        t0, t1 = self.t_of(LABEL_W), self.t_of(self.width())
        fm = QFontMetricsF(self.font())
        crowded = False
        for a, b in zip(sung, sung[1:], strict=False):
            if b.start_s < t0 or a.start_s > t1:
                continue
            if fm.horizontalAdvance(a.text) + 2 * TEXT_PAD > (b.start_s - a.start_s) * self.px_per_s:
                crowded = True
                break
        rows = 2 if crowded else 1
        layout = (rows, {ln.id: (i % rows) for i, ln in enumerate(sung)})
        self._lyric_cache = (key, layout)
        return layout

    def lyric_h(self) -> int:
        return self.lyric_layout()[0] * ROW_H + (WORD_H if self.word_view() else 0)

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
                syllables_ = max(1, sum(1 for ch in ln.text.lower() if ch in "aeiouy"))
                sung = ln.start_s + max(beat, 0.33 * syllables_)
            ends[ln.id] = min(sung, nxt) if nxt is not None else sung
        return ends

    def line_rect(self, line, ends: dict[str, float] | None = None) -> QRectF:  # type: ignore[no-untyped-def]
        end = (ends or self.line_ends()).get(line.id, line.start_s + 2.0)
        x0, x1 = self.x_of(line.start_s), self.x_of(end)
        row = self.lyric_layout()[1].get(line.id, 0)
        # at least 3 px and a 1 px gap: hundreds of lines zoomed out stay separate marks, not one slab
        return QRectF(x0, self.lane_top("lyrics") + row * ROW_H + 3, max(3.0, x1 - x0 - 1), ROW_H - 6)

    def line_at(self, x: float, y: float):  # type: ignore[no-untyped-def]
        top = self.lane_top("lyrics")
        if not top <= y < top + self.lyric_layout()[0] * ROW_H:
            return None
        ends = self.line_ends()
        for ln in reversed(self.song.timed_lines()):
            if self.line_rect(ln, ends).contains(QPointF(x, y)):
                return ln
        return None

    def word_boxes(self) -> list[tuple[str, int, QRectF, str, bool]]:
        """(line id, word index, box, word, own stamp) for the words in view (the word view only)."""
        if not self.word_view():
            return []
        song = self.song
        ends = self.line_ends()
        y = self.lane_top("lyrics") + self.lyric_layout()[0] * ROW_H
        t0, t1 = self.t_of(LABEL_W), self.t_of(self.width())
        out = []
        for ln in song.timed_lines():
            end = ends.get(ln.id, ln.start_s + 2.0)
            if end < t0 or ln.start_s > t1 or not ln.text.strip():
                continue
            words, own = words_of(ln, end)
            for i, w in enumerate(words):
                stop = words[i + 1].start_s if i + 1 < len(words) else (w.end_s or end)
                x0, x1 = self.x_of(w.start_s), self.x_of(max(stop, w.start_s + 0.05))
                out.append((ln.id, i, QRectF(x0, y + 4, max(4.0, x1 - x0 - 2), WORD_H - 8), w.text, own))
        return out

    def word_at(self, x: float, y: float) -> tuple[str, int] | None:
        for line_id, i, box, _text, _own in self.word_boxes():
            if box.adjusted(-2, 0, 2, 0).contains(QPointF(x, y)):
                return line_id, i
        return None

    # -- painting -------------------------------------------------------------------------------------------------
    def _paint_lyrics(self, p: QPainter, song, t0: float, t1: float) -> None:  # type: ignore[no-untyped-def]
        y = self.lane_top("lyrics")
        rows, row_of = self.lyric_layout()
        p.fillRect(QRectF(LABEL_W, y, self.width(), self.lyric_h()), theme.BG.lighter(112))
        if rows > 1:
            p.fillRect(QRectF(LABEL_W, y + ROW_H, self.width(), ROW_H), theme.BG.lighter(118))
        timed = song.timed_lines()
        ends = self.line_ends()
        starts = [ln.start_s for ln in timed]
        lo = max(0, np.searchsorted(starts, t0 - 30.0) if starts else 0)
        sung = [ln for ln in timed if ln.text.strip()]
        # the text may use the room up to the next line on its own row
        next_x = {a.id: self.x_of(b.start_s) for a, b in zip(sung, sung[rows:], strict=False)}
        fm = QFontMetricsF(self.font())
        for ln in timed[lo:]:
            if ln.start_s > t1:
                break
            if not ln.text.strip():
                continue
            r = self.line_rect(ln, ends)
            if r.right() < LABEL_W:
                continue
            color = theme.ACCENT.darker(150) if ln.id in self.selected else QColor("#3a4452")
            p.fillRect(r, color)
            if ln.id in self.lint:
                p.fillRect(QRectF(r.left(), r.bottom() - 3, r.width(), 3), theme.WARN)
            # the text stays in view while the line's start scrolls off (as section names do)
            left = max(r.left(), LABEL_W)
            room = max(r.right(), min(next_x.get(ln.id, self.width()), self.width() + 400)) - left - 2 * TEXT_PAD
            if room < 20:
                continue  # too narrow to read: the block alone shows where the line is (hover shows the text)
            p.setPen(theme.TEXT)
            for k, text in enumerate(wrap(fm, ln.text, room)):
                p.drawText(QPointF(left + TEXT_PAD, r.top() + 2 + fm.ascent() + k * fm.height()), text)
            if ln.words and not self.word_view():
                p.setPen(QPen(theme.PLAYHEAD.darker(130), 1))
                for w in ln.words:
                    wx = self.x_of(w.start_s)
                    p.drawLine(QPointF(wx, r.bottom() - 6), QPointF(wx, r.bottom() - 1))
        if self.word_view():
            self._paint_words(p, fm)

    def _paint_words(self, p: QPainter, fm: QFontMetricsF) -> None:
        y = self.lane_top("lyrics") + self.lyric_layout()[0] * ROW_H
        p.setPen(QPen(QColor(255, 255, 255, 30), 1))
        p.drawLine(QPointF(LABEL_W, y), QPointF(self.width(), y))
        dragged = getattr(self, "_drag", None)
        for line_id, i, box, text, own in self.word_boxes():
            if box.right() < LABEL_W:
                continue
            active = dragged is not None and dragged.kind == "word" and dragged.ids == (line_id,) \
                and dragged.anchor == str(i)
            fill = theme.ACCENT.darker(120) if active else (QColor("#41505f") if own else QColor(0, 0, 0, 0))
            p.fillRect(box, fill)
            p.setPen(QPen(theme.ACCENT if own else theme.DIM, 1, Qt.SolidLine if own else Qt.DashLine))
            p.drawRect(box)
            parts = syllables(text)
            shown = "·".join(parts)
            if fm.horizontalAdvance(shown) > box.width() - 6:
                shown = fm.elidedText(text, Qt.ElideRight, box.width() - 6)
            p.setPen(theme.TEXT if own else theme.DIM.lighter(130))
            p.drawText(box.adjusted(3, 0, -3, 0), Qt.AlignVCenter | Qt.AlignLeft, shown)
            if len(parts) > 1:  # the syllables' onsets, spread over the word by letters
                p.setPen(QPen(theme.PLAYHEAD.darker(140), 1))
                total, acc = sum(len(s) for s in parts), 0
                for s in parts[:-1]:
                    acc += len(s)
                    sx = box.left() + box.width() * acc / total
                    p.drawLine(QPointF(sx, box.bottom() - 5), QPointF(sx, box.bottom()))

    def lyric_label_rows(self) -> list[tuple[str, float, float]]:
        """The lane's labels on the left: "Lyrics" and, in the word view, "Words"."""
        top = RULER_H + SECTION_H
        rows = [("Lyrics", top, self.lyric_layout()[0] * ROW_H)]
        if self.word_view():
            rows.append(("Words", top + self.lyric_layout()[0] * ROW_H, WORD_H))
        return rows
