"""The app's Undo and Redo: the session's own history, shown.

There is one history, the session's (``engine.session.history``): an edit from the app, the DAW or the command line
is one entry there, bounded as the session bounds it. This object only reads it (count, position, the labels of the
next undo and redo) after each change the session announces, and asks the session to undo or redo, so the menu's
"Undo Set tempo (from DAW)" is always what Ctrl+Z does, whatever order the edits arrived in.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction

from engine.session import Session


class SessionUndo(QObject):
    """Undo/redo over ``session``'s history, with the signals and actions a window needs."""

    changed = Signal()
    cleanChanged = Signal(bool)  # Qt's spelling, as QUndoStack's

    def __init__(self, session: Session, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self._clean_at: Any = None  # the entry last saved at (None: the start of the history)
        self._was_clean = True

    # -- reading the history ---------------------------------------------------------------------------------
    def count(self) -> int:
        return len(self.session.history.entries)

    def index(self) -> int:
        """How many entries are done (the rest are undone and can be redone)."""
        return self.session.history.index

    def undoText(self) -> str:
        entry = self.session.history.undo_entry()
        return entry.label if entry is not None else ""

    def redoText(self) -> str:
        entry = self.session.history.redo_entry()
        return entry.label if entry is not None else ""

    def canUndo(self) -> bool:
        return self.session.history.undo_entry() is not None

    def canRedo(self) -> bool:
        return self.session.history.redo_entry() is not None

    def isClean(self) -> bool:
        """True when the document is as it was last saved (Save; edits are on disk as they happen anyway)."""
        return self.session.history.undo_entry() is self._clean_at

    def setClean(self) -> None:
        self._clean_at = self.session.history.undo_entry()
        self.refresh()

    # -- acting --------------------------------------------------------------------------------------------------
    def undo(self) -> None:
        self.session.undo("app")
        self.refresh()

    def redo(self) -> None:
        self.session.redo("app")
        self.refresh()

    def refresh(self) -> None:
        """Tell the window the history moved (called for every change the session announces)."""
        clean = self.isClean()
        if clean != self._was_clean:
            self._was_clean = clean
            self.cleanChanged.emit(clean)
        self.changed.emit()

    def createUndoAction(self, parent: QObject, prefix: str = "&Undo") -> QAction:
        return self._action(parent, prefix, self.undoText, self.canUndo, self.undo)

    def createRedoAction(self, parent: QObject, prefix: str = "&Redo") -> QAction:
        return self._action(parent, prefix, self.redoText, self.canRedo, self.redo)

    def _action(self, parent: QObject, prefix: str, text: Any, can: Any, do: Any) -> QAction:
        action = QAction(prefix, parent)

        def update() -> None:
            label = text()
            action.setText(f"{prefix} {label}" if label else prefix)
            action.setEnabled(can())

        action.triggered.connect(lambda _checked=False: do())
        self.changed.connect(update)
        update()
        return action
