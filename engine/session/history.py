"""The edit history of a session: a list of (label, before, after) with an undo position. Songs are immutable, so
an entry is two references. Undo and redo restore the document but keep the takes and accepted takes of the
moment (a take that arrived after an edit is not undone with it)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.song.model import Song

MAX_ENTRIES = 500


@dataclass(frozen=True)
class Entry:
    label: str
    origin: str
    before: Song
    after: Song


def keep_takes(song: Song, current: Song) -> Song:
    """``song``'s document with ``current``'s takes and accepted takes (and only locks on takes that still exist)."""
    ids = {t.id for t in current.takes}
    return song.replace(takes=current.takes, accepted=current.accepted,
                        locked=tuple(t for t in song.locked if t in ids))


class History:
    def __init__(self, limit: int = MAX_ENTRIES):
        self.entries: list[Entry] = []
        self.index = 0  # entries[:index] are done, entries[index:] undone
        self.limit = limit

    def push(self, entry: Entry) -> None:
        del self.entries[self.index:]
        self.entries.append(entry)
        if len(self.entries) > self.limit:
            del self.entries[0]
        self.index = len(self.entries)

    def undo_entry(self) -> Entry | None:
        return self.entries[self.index - 1] if self.index > 0 else None

    def redo_entry(self) -> Entry | None:
        return self.entries[self.index] if self.index < len(self.entries) else None
