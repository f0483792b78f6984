"""Opening a project: what a crash left in ``takes/``. Unfinished take folders are removed, finished ones (a job
completed before its program stopped) become takes with the next free ids, and unreadable ones are moved aside to
``takes/.quarantine/``."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import SongBridgeError

if TYPE_CHECKING:
    from .core import Session

log = logging.getLogger("songbridge.session")


def tidy_takes(session: Session) -> list[str]:
    """Tidy the session's takes folder as it opens; returns what was done, one note each."""
    from engine.backends.takes import PENDING, commit_pending, leftovers, quarantine, read_record
    from engine.generation import next_take_ids, taken_on_disk

    takes_dir = session.project.folder / "takes"
    song = session.project.song
    partial, finished, broken = leftovers(takes_dir, {t.id for t in song.takes} | {lp.id for lp in song.loops})
    notes = []
    for p in partial:
        shutil.rmtree(p, ignore_errors=True)
    if partial:
        notes.append(f"removed {len(partial)} unfinished take folder(s) of a job that was interrupted")
    def aside(p: Path) -> None:
        dst = quarantine(takes_dir, p)
        notes.append(f"moved {p.name} aside to {dst.relative_to(session.project.folder)} (not a complete take)")

    for p in broken:  # first, so that their names do not push recovered takes' ids up
        aside(p)
    for p in finished:
        try:
            take = read_record(p)
            if take.parent is not None and take.parent not in {t.id for t in song.takes}:
                take = replace(take, parent=None)
            if p.name.startswith(PENDING):
                (new_id,) = next_take_ids(song, 1, taken_on_disk(session.project))
                take = commit_pending(takes_dir, replace(take, id=p.name[1:]), new_id,
                                      f"Take {new_id.split('-')[-1].lstrip('0')}")
            elif take.id != p.name:
                raise SongBridgeError(f"its record names {take.id}")
            song = song.with_take(take)
            notes.append(f"recovered {take.id} (finished before the program that made it stopped)")
        except (SongBridgeError, ValueError, OSError) as exc:
            log.info("%s: not recovered: %s", p, exc)
            aside(p)
    if song is not session.project.song:
        session.project.song = song
        session.version += 1
        session._saver.request(session.version, song)
        session._saver.flush()
    return notes
