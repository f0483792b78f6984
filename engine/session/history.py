"""The edit history of a session: a list of (label, before, after) with an undo position. Songs are immutable, so
an entry is two references. Undo and redo restore the document but keep the takes and accepted takes of the
moment (a take that arrived after an edit is not undone with it).

The history is bounded in entries and in bytes: each entry is weighed by what it keeps alive that its neighbour does
not share (a lyric set keeps a new tuple of lines; a title edit shares them), and the oldest entries go first when
the weights pass ``MAX_BYTES``. Without it, a DAW setting 48,000 characters of lyrics again and again would grow the
program by megabytes a set."""

from __future__ import annotations

from dataclasses import dataclass

from engine.song.model import Song

MAX_ENTRIES = 500
MAX_BYTES = 8 * 2**20  # what the entries keep alive, as weighed by ``weight`` (500 edits of a 4 KB song)
# Bytes a part of a song costs in memory (CPython 3.11, measured with tracemalloc): a lyric line object with its
# strings, a word timing, a section; and a song's own objects.
LINE_BYTES, WORD_BYTES, SECTION_BYTES, SONG_BYTES = 300, 200, 400, 2048


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


def weight(entry: Entry) -> int:
    """About how many bytes ``entry`` keeps alive beyond its ``before`` song: the song's new lyrics and sections
    (parts it shares with ``before`` are free)."""
    before, after = entry.before, entry.after
    size = SONG_BYTES
    if after.lyrics is not before.lyrics:
        size += sum(LINE_BYTES + len(ln.text) + WORD_BYTES * len(ln.words) for ln in after.lyrics)
    if after.sections is not before.sections:
        size += SECTION_BYTES * len(after.sections)
    return size


class History:
    def __init__(self, limit: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES):
        self.entries: list[Entry] = []
        self.weights: list[int] = []
        self.index = 0  # entries[:index] are done, entries[index:] undone
        self.limit = limit
        self.max_bytes = max_bytes

    def push(self, entry: Entry) -> None:
        """Add a done edit (dropping what was undone); the oldest go while there are too many or they weigh too
        much. The newest always stays, whatever it weighs, so the last edit can be undone."""
        del self.entries[self.index:]
        del self.weights[self.index:]
        self.entries.append(entry)
        self.weights.append(weight(entry))
        drop = max(0, len(self.entries) - self.limit)
        total = sum(self.weights[drop:])
        while total > self.max_bytes and drop < len(self.entries) - 1:
            total -= self.weights[drop]
            drop += 1
        if drop:
            del self.entries[:drop]
            del self.weights[:drop]
        self.index = len(self.entries)

    @property
    def bytes(self) -> int:
        """What the entries keep alive, about."""
        return sum(self.weights)

    def undo_entry(self) -> Entry | None:
        return self.entries[self.index - 1] if self.index > 0 else None

    def redo_entry(self) -> Entry | None:
        return self.entries[self.index] if self.index < len(self.entries) else None
