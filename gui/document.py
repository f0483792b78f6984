"""The open project and its undo stack. Every document edit is a ``SongEdit`` (old song -> new song) on the
QUndoStack, so undo/redo works for every edit; saving is the engine's atomic save."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.song.model import Song
from engine.song.project import Project


class SongEdit(QUndoCommand):
    def __init__(self, doc: DocumentModel, before: Song, after: Song, text: str):
        super().__init__(text)
        self.doc, self.before, self.after = doc, before, after

    def redo(self) -> None:
        self.doc._set(self.after)

    def undo(self) -> None:
        self.doc._set(self.before)


class DocumentModel(QObject):
    songChanged = Signal()
    saved = Signal(str)

    def __init__(self, project: Project):
        super().__init__()
        self.project = project
        self.undo = QUndoStack(self)

    @property
    def song(self) -> Song:
        return self.project.song

    @property
    def folder(self) -> Path:
        return self.project.folder

    def _set(self, song: Song) -> None:
        self.project.song = song
        self.songChanged.emit()

    def edit(self, new: Song, text: str) -> None:
        """Apply an edit through the undo stack (no-op edits are dropped)."""
        if new != self.project.song:
            self.undo.push(SongEdit(self, self.project.song, new, text))

    def replace_silently(self, new: Song) -> None:
        """Changes that are not user edits (a finished take arriving) — not undoable."""
        self._set(new)

    def save(self) -> None:
        self.project.save()
        self.undo.setClean()
        self.saved.emit(str(self.project.folder))
