"""The open project as the app sees it: a view of the session core. Every edit goes to the session (which saves
it off the GUI thread); Undo and Redo are the session's own history (``gui.undo.SessionUndo``), so an edit from the
DAW appears in it ("Set tempo (from DAW)") and Ctrl+Z undoes it like any other, and the DAW hears the change back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.session import Session, SongChanged
from engine.song.model import Song
from engine.song.project import Project

from .undo import SessionUndo


class DocumentModel(QObject):
    songChanged = Signal()
    saved = Signal(str)
    sessionEvent = Signal(object)  # every session event, on the GUI thread
    _arrived = Signal(object)

    def __init__(self, source: Project | Session):
        super().__init__()
        self.session = source if isinstance(source, Session) else Session(source)
        self._owns_session = not isinstance(source, Session)
        self.undo = SessionUndo(self.session, self)
        self._arrived.connect(self._on_event)  # queued when it comes from another thread
        self._unsubscribe = self.session.subscribe(self._arrived.emit)

    @property
    def project(self) -> Project:
        return self.session.project

    @property
    def song(self) -> Song:
        return self.session.song

    @property
    def folder(self) -> Path:
        return self.session.folder

    def edit(self, new: Song, text: str) -> None:
        """Apply an edit through the session: one entry of its history (no-op edits are dropped)."""
        self.session.edit(new, text, "app")

    def _on_event(self, ev: Any) -> None:
        if isinstance(ev, SongChanged):
            self.undo.refresh()
            self.songChanged.emit()
        self.sessionEvent.emit(ev)

    def save(self) -> None:
        """Everything is saved as it happens; this waits until the last change is on disk."""
        self.session.flush()
        self.undo.setClean()
        self.saved.emit(str(self.session.folder))

    def close(self) -> None:
        self._unsubscribe()
        if self._owns_session:
            self.session.close()
