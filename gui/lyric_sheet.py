"""The lyric sheet, docked beside the timeline: the whole text of the song with its section headers, to read and to
edit as text. What is typed becomes an edit of the song a moment after typing stops (or on leaving the sheet, or
before Ctrl+Z), one undo step each; a new row is a new untimed line until it is placed (Ctrl+Shift+T, T, or a
drag). The line under the play head is highlighted; clicking a row selects its line on the timeline, and a line
selected there is highlighted here. The timing lint marks its rows in the margin. Import and export LRC.

The reading of the text is ``engine.lyrics.sheet`` (headless and tested there); this widget only shows and asks."""

from __future__ import annotations

import bisect
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.lyrics.sheet import read_sheet, sheet_rows, song_lrc, song_with_lrc

from .document import DocumentModel
from .lyric_editor import LyricEditor

APPLY_AFTER_MS = 700  # typing pauses this long before the text becomes an edit


class LyricSheet(QWidget):
    lineActivated = Signal(str)  # a row was clicked: its line id
    message = Signal(str)

    def __init__(self, doc: DocumentModel):
        super().__init__()
        self.doc = doc
        self.row_ids: list[str | None] = []
        self.selected: set[str] = set()
        self.lint: dict[str, str] = {}
        self._playing: int | None = None
        self._loading = False
        self._dirty = False  # typed and not yet an edit
        self.editor = LyricEditor()
        self.import_btn = QPushButton("Import LRC…")
        self.export_btn = QPushButton("Export LRC…")
        self.import_btn.setToolTip("Replace the lyrics with an LRC or text file's ([ti:], [ar:], headers and word "
                                   "stamps kept); one undo step")
        self.export_btn.setToolTip("Write the lyrics as LRC: [ti:], [ar:], section headers, line and word stamps")
        self.import_btn.clicked.connect(lambda: self.import_lrc())
        self.export_btn.clicked.connect(lambda: self.export_lrc())
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #8b939e;")
        buttons = QHBoxLayout()
        buttons.addWidget(self.import_btn)
        buttons.addWidget(self.export_btn)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.status)
        self._apply_later = QTimer(self)
        self._apply_later.setSingleShot(True)
        self._apply_later.timeout.connect(self.apply)
        self.editor.textChanged.connect(self._typed)
        self.editor.flushRequested.connect(self.apply)
        self.editor.cursorPositionChanged.connect(self._clicked)
        doc.songChanged.connect(self.refresh)
        self.refresh()

    # -- text -> song ---------------------------------------------------------------------------------------------
    def _typed(self) -> None:
        if not self._loading:
            self._dirty = True
            self._apply_later.start(APPLY_AFTER_MS)

    def pending(self) -> bool:
        return self._dirty

    def apply(self) -> bool:
        """What the text says, as one edit of the song (nothing when it says what the song has)."""
        if not self._dirty:
            return False
        self._dirty = False
        self._apply_later.stop()
        song = self.doc.song
        read = read_sheet(song, self.editor.toPlainText())
        self.row_ids = read.row_ids
        self._warnings = read.warnings
        if read.song == song:
            self._decorate()
            return False
        self.doc.edit(read.song, "Edit lyrics")
        return True

    # -- song -> text ---------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Show the song. Text that already says what the song has is left as typed (with its cursor)."""
        if self.pending():
            self.apply()  # what was typed first: then the change that came meanwhile shows over it
        song = self.doc.song
        read = read_sheet(song, self.editor.toPlainText())
        if read.song == song:
            self.row_ids, self._warnings = read.row_ids, read.warnings
        else:
            rows = sheet_rows(song)
            text = "\n".join(r.text for r in rows)
            cursor = self.editor.textCursor()
            row, col = cursor.blockNumber(), cursor.positionInBlock()
            scroll = self.editor.verticalScrollBar().value()
            self._loading = True
            try:
                self.editor.setPlainText(text)
                self.editor.go_to_row(min(row, len(rows) - 1))
                c = self.editor.textCursor()
                c.movePosition(QTextCursor.Right, QTextCursor.MoveAnchor, min(col, len(c.block().text())))
                self.editor.setTextCursor(c)
                self.editor.verticalScrollBar().setValue(scroll)
            finally:
                self._loading = False
            self.row_ids = [r.line_id for r in rows]
            self._warnings = []
        self._decorate()

    def _decorate(self) -> None:
        song = self.doc.song
        by_id = {ln.id: ln for ln in song.lyrics}
        text_rows = self.editor.toPlainText().split("\n")
        headers = {n for n, t in enumerate(text_rows) if t.strip().startswith("[") and t.strip().endswith("]")}
        untimed = {n for n, lid in enumerate(self.row_ids) if lid in by_id and by_id[lid].start_s is None}
        selected = {n for n, lid in enumerate(self.row_ids) if lid in self.selected}
        self.editor.decorate(headers, untimed, selected, self._playing)
        self.editor.set_marks({n: self.lint[lid] for n, lid in enumerate(self.row_ids) if lid in self.lint})
        notes = list(getattr(self, "_warnings", []))
        if untimed:
            notes.append(f"{len(untimed)} line{'s' if len(untimed) > 1 else ''} not placed yet (dimmed): "
                         "Edit > Auto-time (Ctrl+Shift+T) places them on bars, T taps them at the play head")
        self.status.setText("\n".join(notes))

    # -- with the timeline ----------------------------------------------------------------------------------------
    def _clicked(self) -> None:
        if self._loading or not self.editor.hasFocus():
            return
        n = self.editor.row_at_cursor()
        lid = self.row_ids[n] if n < len(self.row_ids) else None
        if lid is not None and self.selected != {lid}:
            self.selected = {lid}
            self._decorate()
            self.lineActivated.emit(lid)

    def show_selection(self, ids: set[str]) -> None:
        """Lines selected on the timeline: highlighted here, and scrolled to when the sheet is not being typed in."""
        self.selected = set(ids)
        rows = [n for n, lid in enumerate(self.row_ids) if lid in self.selected]
        if rows and not self.editor.hasFocus():
            self._loading = True
            try:
                self.editor.go_to_row(rows[0])
            finally:
                self._loading = False
        self._decorate()

    def edit_line(self, line_id: str) -> None:
        """Put the cursor on a line's row with its text selected (double-click on the timeline)."""
        if line_id in self.row_ids:
            self.editor.setFocus()
            self._loading = True
            try:
                self.editor.go_to_row(self.row_ids.index(line_id), select=True)
            finally:
                self._loading = False

    def playing_row(self, t: float) -> int | None:
        """The row of the line being sung at ``t`` seconds (from its start to its end or the next line's start)."""
        timed = [ln for ln in self.doc.song.timed_lines() if ln.text.strip()]
        starts = [ln.start_s for ln in timed]
        i = bisect.bisect_right(starts, t) - 1
        if i < 0:
            return None
        ln = timed[i]
        end = ln.end_s if ln.end_s is not None else (starts[i + 1] if i + 1 < len(starts) else ln.start_s + 8.0)
        if t >= end or ln.id not in self.row_ids:
            return None
        return self.row_ids.index(ln.id)

    def set_playhead(self, t: float) -> None:
        row = self.playing_row(t)
        if row != self._playing:
            self._playing = row
            self._decorate()

    def set_lint(self, lint: dict[str, str]) -> None:
        self.lint = dict(lint)
        self._decorate()

    # -- files ----------------------------------------------------------------------------------------------------
    def import_lrc(self, path: str | None = None) -> bool:
        from engine.errors import SongBridgeError
        from engine.lyrics import parse_file

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import lyrics", str(self.doc.folder.parent),
                                                  "Lyrics (*.lrc *.txt);;All files (*)")
            if not path:
                return False
        try:
            lrc = parse_file(path)
        except SongBridgeError as exc:
            self.message.emit(f"not imported: {exc}")
            return False
        self.apply()
        warnings: list[str] = [*lrc.warnings]
        self.doc.edit(song_with_lrc(self.doc.song, lrc, warnings), f"Import {Path(path).name}")
        self._warnings = warnings
        self._decorate()
        self.message.emit(f"imported {len(lrc.lines)} lines from {path}"
                          + (f" ({len(warnings)} warnings in the lyric sheet)" if warnings else ""))
        return True

    def export_lrc(self, path: str | None = None) -> Path | None:
        self.apply()
        if path is None:
            default = self.doc.folder.parent / f"{self.doc.folder.name.removesuffix('.songbridge')}.lrc"
            path, _ = QFileDialog.getSaveFileName(self, "Export lyrics as LRC", str(default), "LRC (*.lrc)")
            if not path:
                return None
        target = Path(path)
        try:
            target.write_text(song_lrc(self.doc.song), encoding="utf-8")
        except OSError as exc:
            self.message.emit(f"not exported: {target}: {exc.strerror}")
            return None
        self.message.emit(f"exported the lyrics to {target}")
        return target
