"""The text editor of the lyric sheet: plain text with a margin for the timing lint's marks, the line under the play
head and the selected lines highlighted, untimed lines dimmed, section headers in bold. Its own undo is off: Ctrl+Z
is the app's undo (it asks the sheet to apply what was typed first), so the sheet and the timeline undo together."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QPainter, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QToolTip, QWidget

from . import theme

MARGIN_W = 14


class LintMargin(QWidget):
    """A mark beside each row the lint flags; hovering it shows why."""

    def __init__(self, editor: LyricEditor):
        super().__init__(editor)
        self.editor = editor
        self.setMouseTracking(True)

    def sizeHint(self) -> QSize:
        return QSize(MARGIN_W, 0)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(event.rect(), theme.PANEL)
        ed = self.editor
        block = ed.firstVisibleBlock()
        while block.isValid():
            top = ed.blockBoundingGeometry(block).translated(ed.contentOffset()).top()
            if top > self.height():
                break
            if block.blockNumber() in ed.marks:
                h = ed.blockBoundingRect(block).height()
                p.fillRect(QRect(3, int(top) + 3, MARGIN_W - 6, int(h) - 6), theme.WARN)
            block = block.next()
        p.end()

    def mouseMoveEvent(self, event) -> None:
        cursor = self.editor.cursorForPosition(QPoint(0, int(event.position().y())))
        row = cursor.blockNumber()
        message = self.editor.marks.get(row)
        if message:
            QToolTip.showText(event.globalPosition().toPoint(), message, self)
        else:
            QToolTip.hideText()


class LyricEditor(QPlainTextEdit):
    flushRequested = Signal()  # apply what was typed now (before an undo, on leaving the sheet)

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[int, str] = {}  # row -> lint message
        self.margin = LintMargin(self)
        self.setUndoRedoEnabled(False)
        self.setLineWrapMode(QPlainTextEdit.WidgetWidth)
        self.setViewportMargins(MARGIN_W, 0, 0, 0)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() + 1)
        self.setFont(font)
        self.updateRequest.connect(self._margin_update)
        self.setPlaceholderText("Type the lyrics here, a line per row; [Verse 1], [Chorus] … above a group of lines "
                                "put them in that section.")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        cr = self.contentsRect()
        self.margin.setGeometry(QRect(cr.left(), cr.top(), MARGIN_W, cr.height()))

    def _margin_update(self, rect: QRect, dy: int) -> None:
        if dy:
            self.margin.scroll(0, dy)
        else:
            self.margin.update(0, rect.y(), MARGIN_W, rect.height())

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.ShortcutOverride and (
                event.matches(QKeySequence.Undo) or event.matches(QKeySequence.Redo)
                or QKeySequence(event.keyCombination()) in (QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y"))):
            self.flushRequested.emit()
            event.ignore()  # not for the text: the window's Undo/Redo takes it
            return True
        return super().event(event)

    def focusOutEvent(self, event) -> None:
        self.flushRequested.emit()
        super().focusOutEvent(event)

    def set_marks(self, marks: dict[int, str]) -> None:
        if marks != self.marks:
            self.marks = marks
            self.margin.update()

    def decorate(self, headers: set[int], untimed: set[int], selected: set[int], playing: int | None) -> None:
        """Row highlights as extra selections (the text itself is never touched)."""
        doc = self.document()
        out = []

        def row(n: int, background: QColor | None = None, foreground: QColor | None = None,
                bold: bool = False) -> None:
            block = doc.findBlockByNumber(n)
            if not block.isValid():
                return
            sel = QTextEdit.ExtraSelection()
            sel.cursor = QTextCursor(block)
            if background is not None:
                sel.format.setBackground(background)
                sel.format.setProperty(QTextFormat.FullWidthSelection, True)
            else:
                sel.cursor.movePosition(QTextCursor.EndOfBlock, QTextCursor.KeepAnchor)
            if foreground is not None:
                sel.format.setForeground(foreground)
            if bold:
                sel.format.setFontWeight(QFont.Bold)
            out.append(sel)

        for n in headers:
            row(n, foreground=theme.ACCENT, bold=True)
        for n in untimed:
            row(n, foreground=theme.DIM)
        for n in selected:
            row(n, background=QColor(79, 163, 224, 60))
        if playing is not None:
            row(playing, background=QColor(242, 193, 78, 55))
        self.setExtraSelections(out)

    def row_at_cursor(self) -> int:
        return self.textCursor().blockNumber()

    def go_to_row(self, n: int, select: bool = False) -> None:
        block = self.document().findBlockByNumber(n)
        if not block.isValid():
            return
        cursor = QTextCursor(block)
        if select:
            cursor.movePosition(QTextCursor.EndOfBlock, QTextCursor.KeepAnchor)
        self.setTextCursor(cursor)
        self.ensureCursorVisible()
