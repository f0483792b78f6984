"""The session: one open project, owned by one program.

It holds the song and its edit history, the takes and the accepted take per section (both in ``song.json``), the
jobs in flight and what each is for, and the DAW's transport as last reported. Every change goes through it and is
published to subscribers (the app, the OSC bridge); saving happens on the saver thread, never on the caller's.

Take ids are given when a take is committed: jobs render into ``takes/.pending-…`` and the session names each
finished take with the next free id, so any number of queued requests all become takes. Opening a project takes
its lock, removes temporary files of an interrupted save, and tidies what a crashed job left in ``takes/``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import DocumentError, SongBridgeError
from engine.song.document import SONG_FILE, save_song
from engine.song.lock import ProjectLock, clean_temporary
from engine.song.model import Song
from engine.song.project import Project, project_path

from .actions import TakeActions
from .events import SaveFailed, SongChanged
from .history import Entry, History, keep_takes
from .job_flow import JobFlow
from .making import MakeTakes
from .purpose import Purpose
from .saver import Done, Saver
from .tidy import tidy_takes


def with_choices(song: Song, accepted: Any) -> Song:
    """``song`` with the accepted takes ``accepted`` had, less those of takes or sections no longer there."""
    takes, sections = {t.id for t in song.takes}, {s.id for s in song.sections}
    return song.replace(accepted={k: v for k, v in accepted.items() if v in takes and (not k or k in sections)})

if TYPE_CHECKING:
    from engine.service.protocol import Engine

log = logging.getLogger("songbridge.session")
TEMPO_TOLERANCE = 0.5  # bpm: a DAW tempo this close to the song's is the song's
Subscriber = Callable[[Any], None]


@dataclass(frozen=True)
class Transport:
    """The DAW's transport as the bridge last heard it (MIDI clock or the DAW's OSC)."""

    follow: bool = False
    bpm: float | None = None  # None: not known (too few clock ticks since start/continue/SPP)
    playing: bool = False
    beats: float | None = None  # quarter notes from the song start
    source: str = ""  # where it was last heard from: "MIDI clock", "Ardour OSC"


class Session(MakeTakes, TakeActions, JobFlow):
    def __init__(self, project: Project, engine: Engine | None = None, *, lock: ProjectLock | None = None):
        self.project = project
        self.engine = engine
        self.lock = lock
        self.history = History()
        self.transport = Transport(follow=project.song.daw.follow_transport)
        self.jobs: dict[str, Purpose] = {}  # job id -> what it is for (engine/session/purpose.py)
        self.notes: list[str] = []  # what opening the project did (recovered takes, removed files)
        #: split neural takes into stems as they arrive, when a stem-separation model is installed
        self.auto_split = os.environ.get("SONGBRIDGE_AUTO_SPLIT", "1") not in ("0", "off", "no")
        self.version = 0
        #: Session policy: land every take a job makes in the DAW as soon as it is made (``serve --auto-land``)
        self.auto_land = False
        #: Settings every generate job hands its backend (the app's models folder for a local engine: ``models_dir``)
        self.backend_settings: dict[str, Any] = {}
        self._mutex = threading.RLock()
        self._subs: list[Subscriber] = []
        self._saver = Saver(self._write, self._save_failed)
        self._stop = threading.Event()
        self._pump: threading.Thread | None = None
        if engine is not None:
            self._follow_engine()

    # -- opening and closing --------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, engine: Engine | None = None, program: str = "songbridge") -> Session:
        """Open a project as its only owner: lock, tidy, load. Raises ProjectBusy naming the holder."""
        folder = project_path(path)
        if not (folder / SONG_FILE).exists():
            raise DocumentError(f"{folder}: not a SongBridge project (no {SONG_FILE})")
        lock = ProjectLock.acquire(folder, program)
        try:
            notes = []
            if lock.took_over is not None:
                notes.append(f"took over the lock of {lock.took_over.describe()}, which is no longer running")
            removed = clean_temporary(folder)
            if removed:
                notes.append(f"removed {len(removed)} temporary file(s) left by an interrupted save")
            project = Project.open(folder)
            session = cls(project, engine, lock=lock)
            session.notes = notes + tidy_takes(session)
        except BaseException:
            lock.release()
            raise
        for n in session.notes:
            log.info("%s: %s", folder, n)
        return session

    @classmethod
    def create(cls, path: str | Path, song: Song, engine: Engine | None = None, program: str = "songbridge") -> Session:
        """Make a new project holding ``song`` and open it as its only owner (the folder may exist, empty of a
        project: a refused first request leaves nothing behind when the caller removes it). Raises DocumentError when
        a project is there already."""
        folder = project_path(path)
        if (folder / SONG_FILE).exists():
            raise DocumentError(f"{folder}: a project is there already")
        folder.mkdir(parents=True, exist_ok=True)
        lock = ProjectLock.acquire(folder, program)
        try:
            if (folder / SONG_FILE).exists():  # made by another program between the check and the lock
                raise DocumentError(f"{folder}: a project is there already")
            save_song(song, folder / SONG_FILE)
            return cls(Project(folder, song), engine, lock=lock)
        except BaseException:
            lock.release()
            raise

    def close(self) -> None:
        """Stop following the engine, write what is pending, release the lock (the engine is the caller's)."""
        self._stop.set()
        if self._pump is not None and self._pump.ident is not None:
            self._pump.join(2.0)
        self._saver.close()
        if self.lock is not None:
            self.lock.release()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every change so far is on disk."""
        return self._saver.flush(timeout)

    # -- reading ----------------------------------------------------------------------------------------------
    @property
    def song(self) -> Song:
        return self.project.song

    @property
    def folder(self) -> Path:
        return self.project.folder

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        with self._mutex:
            self._subs.append(fn)
        return lambda: self._subs.remove(fn) if fn in self._subs else None

    def _publish(self, *events: Any) -> None:
        for ev in events:
            for fn in list(self._subs):
                try:
                    fn(ev)
                except Exception:  # one broken subscriber must not silence the others
                    log.exception("subscriber %r failed on %s", fn, type(ev).__name__)

    # -- editing ----------------------------------------------------------------------------------------------
    def edit(self, new: Song, label: str, origin: str = "app", on_saved: Done | None = None) -> bool:
        """Make ``new`` the song, as one undoable step named ``label``. ``on_saved`` is called (on the saver
        thread) once the change is on disk. Returns False when nothing changed."""
        with self._mutex:
            before = self.project.song
            changed = new != before
            if changed:
                self.history.push(Entry(label, origin, before, new))
                ev = self._set(new, before, label, origin, "edit")
            version = self.version
        self._saver.request(version, new if changed else None, on_saved)
        if changed:
            self._publish(ev)
        return changed

    def undo(self, origin: str = "app") -> str | None:
        """Undo the last edit (its takes stay); returns its label, or None when there is nothing to undo."""
        return self._step(-1, origin)

    def redo(self, origin: str = "app") -> str | None:
        return self._step(+1, origin)

    def _step(self, direction: int, origin: str) -> str | None:
        with self._mutex:
            entry = self.history.undo_entry() if direction < 0 else self.history.redo_entry()
            if entry is None:
                return None
            before = self.project.song
            target = keep_takes(entry.before if direction < 0 else entry.after, before).keeping_loops_of(before)
            if entry.before.accepted != entry.after.accepted:  # "Use this take for ...": undone with its step
                target = with_choices(target, (entry.before if direction < 0 else entry.after).accepted)
            self.history.index += direction
            ev = self._set(target, before, entry.label, origin, "undo" if direction < 0 else "redo")
            version = self.version
        self._saver.request(version, target)
        self._publish(ev)
        return entry.label

    def take_to_accept(self, take_id: str | None) -> str:
        """The take :meth:`accept` makes the choice: ``take_id`` (checked), or None for the newest song take (a loop
        is never one)."""

        song = self.project.song
        if take_id:
            try:
                return song.take(take_id).id
            except KeyError as exc:
                raise SongBridgeError(str(exc.args[0])) from None
        from .regenerate import is_song_take

        newest = next((t for t in reversed(song.takes) if is_song_take(t)), None)
        if newest is None:
            raise SongBridgeError("no song take to accept yet")
        return newest.id

    def accept(self, take_id: str | None, section: str = "", origin: str = "app",
               on_saved: Done | None = None) -> str:
        """``take_id`` (None: the newest song take) becomes the accepted take of ``section`` (a name or id; "": the
        song): one undoable step, kept in song.json; returns the take's id. A loop is never a section's (or the
        song's) take; the comp (``engine.comp``) renders and lands these."""
        from engine.comp import is_loop

        from .regenerate import find_section

        with self._mutex:
            before = self.project.song
            take = before.take(self.take_to_accept(take_id))
            section_id = find_section(before, section).id if section else ""
            where = before.section(section_id).name if section_id else "the song"
            if is_loop(take):
                raise SongBridgeError(f"{take.id} is a loop, not a song take; it cannot be the take of {where}")
            try:
                new = before.with_accepted(section_id, take.id)
            except ValueError as exc:
                raise SongBridgeError(str(exc.args[0])) from None
            label = f"Use {take.id} for {where}"
            changed = new != before
            if changed:
                self.history.push(Entry(label, origin, before, new))
            # an "edit" event: the app's undo stack mirrors it (so a choice made from the DAW is undone in the app)
            ev = self._set(new, before, label, origin, "edit" if changed else "accept")
            version = self.version
        self._saver.request(version, new, on_saved)
        self._publish(ev)
        return take.id

    def _set(self, new: Song, before: Song, label: str, origin: str, kind: str) -> SongChanged:
        self.project.song = new
        self.version += 1
        return SongChanged(before, new, label, origin, kind, self.version)

    def _write(self, song: Song) -> None:
        save_song(song, self.project.folder)

    def _save_failed(self, error: str) -> None:
        self._publish(SaveFailed(self.version, error))

    def bring_reference(self, clip: str | Path) -> str:
        """Copy an audio clip into the project's ``reference/`` (checked first, never through a link) and return its
        path relative to the project, for ``Style.reference_audio``; the song is not changed (the style edit that
        names it is the caller's next call). Reads and writes a whole file: not for the GUI thread."""
        from .references import bring_reference

        return bring_reference(self.folder, clip)

    # -- transport -------------------------------------------------------------------------------------------
    def set_transport(self, **changes: Any) -> Transport:
        with self._mutex:
            self.transport = replace(self.transport, **changes)
            return self.transport

    def daw_tempo(self) -> float | None:
        """The DAW's tempo when following a DAW that plays at another tempo than the song (else None).

        A section or bars regenerated then is generated at the *song's* tempo and locked to the DAW's when it is made
        (a lock follow-up, ``making.py``), not the song retempoed first: the regeneration edits a base take that was
        made at the song's tempo, and its new bars must splice into that take's audio on the song's beats;
        retempoing the song would move every section, lyric line and take of the project for one request. The lock
        (``engine.grid.takes.lock_take`` at the DAW's bpm) maps every bar of the new take onto the DAW's bar lines,
        so N bars come back exactly N bars at the DAW's tempo (a take of F samples is locked to F * song bpm / DAW
        bpm samples)."""
        t = self.transport
        if t.follow and t.bpm and abs(t.bpm - self.song.tempo.bpm) > TEMPO_TOLERANCE:
            return float(t.bpm)
        return None
