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
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.errors import DocumentError, SongBridgeError
from engine.song.document import SONG_FILE, save_song
from engine.song.lock import ProjectLock, clean_temporary
from engine.song.model import Song, Take
from engine.song.project import Project, project_path

from . import followups
from .actions import TakeActions
from .events import JobEnded, JobProgress, JobQueued, SaveFailed, SongChanged, TakesAdded
from .history import Entry, History, keep_takes
from .regenerate import Regenerate
from .regenerate import plan as plan_regenerate
from .saver import Done, Saver
from .tidy import tidy_takes


def with_choices(song: Song, accepted: Any) -> Song:
    """``song`` with the accepted takes ``accepted`` had, less those of takes or sections no longer there."""
    takes, sections = {t.id for t in song.takes}, {s.id for s in song.sections}
    return song.replace(accepted={k: v for k, v in accepted.items() if v in takes and (not k or k in sections)})

log = logging.getLogger("songbridge.session")
Subscriber = Callable[[Any], None]


@dataclass(frozen=True)
class Transport:
    """The DAW's transport as the bridge last heard it (MIDI clock or the DAW's OSC)."""

    follow: bool = False
    bpm: float | None = None  # None: not known (too few clock ticks since start/continue/SPP)
    playing: bool = False
    beats: float | None = None  # quarter notes from the song start
    source: str = ""  # where it was last heard from: "MIDI clock", "Ardour OSC"


class Session(TakeActions):
    def __init__(self, project: Project, engine: Any = None, *, lock: ProjectLock | None = None):
        self.project = project
        self.engine = engine
        self.lock = lock
        self.history = History()
        self.transport = Transport(follow=project.song.daw.follow_transport)
        self.jobs: dict[str, dict[str, Any]] = {}  # job id -> purpose (kind, label, origin, client, ...)
        self.notes: list[str] = []  # what opening the project did (recovered takes, removed files)
        #: split neural takes into stems as they arrive, when a stem-separation model is installed
        self.auto_split = os.environ.get("SONGBRIDGE_AUTO_SPLIT", "1") not in ("0", "off", "no")
        self.version = 0
        #: Settings every generate job hands its backend (the app's models folder for a local engine: ``models_dir``)
        self.backend_settings: dict[str, Any] = {}
        self._mutex = threading.RLock()
        self._subs: list[Subscriber] = []
        self._saver = Saver(self._write, self._save_failed)
        self._stop = threading.Event()
        self._pump: threading.Thread | None = None
        if engine is not None:
            self._pump = threading.Thread(target=self._pump_events, name="songbridge-session", daemon=True)
            self._pump.start()

    # -- opening and closing --------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, engine: Any = None, program: str = "songbridge") -> Session:
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
    def create(cls, path: str | Path, song: Song, engine: Any = None, program: str = "songbridge") -> Session:
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
        if self._pump is not None:
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
        from engine.comp import is_loop

        song = self.project.song
        if take_id:
            try:
                return song.take(take_id).id
            except KeyError as exc:
                raise SongBridgeError(str(exc.args[0])) from None
        newest = next((t for t in reversed(song.takes) if not is_loop(t)), None)
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

    # -- transport -------------------------------------------------------------------------------------------
    def set_transport(self, **changes: Any) -> Transport:
        with self._mutex:
            self.transport = replace(self.transport, **changes)
            return self.transport

    # -- jobs -------------------------------------------------------------------------------------------------
    def generate(self, backend: str, count: int, seed: int | None, *, params: dict | None = None,
                 edit: Any = None, duration_s: float | None = None, priority: int | None = None,
                 label: str = "song", origin: str = "app", purpose: dict[str, Any] | None = None,
                 follow_ups: Sequence[followups.FollowUp] = ()) -> str:
        """Queue ``count`` takes; they get their ids when they are committed, then ``follow_ups`` run on them."""
        from engine.generation import plan_takes
        from engine.service import PRIORITY_BATCH, PRIORITY_SECTION, GenerateJob

        if self.engine is None:
            raise SongBridgeError("this session has no engine")
        ups = followups.checked(follow_ups) or tuple((purpose or {}).get("follow_ups") or ())
        seed = secrets.randbelow(2**31) if seed is None else seed
        tag = secrets.token_hex(4)
        with self._mutex:
            if edit is not None and duration_s is None:
                duration_s = self.song.take(edit.source_take).duration_s
            requests = plan_takes(self.project, count, seed, duration_s=duration_s, params=params, edit=edit,
                                  pending=tag)
        if priority is None:
            priority = PRIORITY_SECTION if edit is not None else PRIORITY_BATCH
        full = f"{label} ({count} take{'s' if count > 1 else ''})"
        job = GenerateJob(backend, tuple(requests), dict(self.backend_settings), priority, full)
        return self.submit(job, {**(purpose or {}), "kind": "generate", "label": full, "pending": tag,
                                "follow_ups": ups}, origin)

    def regenerate(self, req: Regenerate, *, origin: str = "app", priority: int | None = None,
                   purpose: dict[str, Any] | None = None, follow_ups: Sequence[followups.FollowUp] = ()) -> str:
        """The one "regenerate parts of a take" (engine/session/regenerate.py): check ``req`` whole, then set the
        words and style it carries (one undoable edit), then queue its takes (``follow_ups`` run on them when they
        are made); returns the job id."""
        from engine.backends import registry
        from engine.service import PRIORITY_INTERACTIVE

        if self.engine is None:
            raise SongBridgeError("this session has no engine")
        ups = followups.checked(follow_ups)
        with self._mutex:
            plan = plan_regenerate(self.song, req, tuple(registry.names()))
            if plan.song != self.song:
                self.edit(plan.song, "Edit lyrics" if req.lyrics else "Style", origin)
            extra = {"ranges": tuple((r.start_s, r.end_s) for r in plan.edit.ranges), "section": plan.section,
                     "base_take": plan.base.id}
            return self.generate(plan.backend, req.takes, req.seed, params=dict(req.params), edit=plan.edit,
                                 priority=PRIORITY_INTERACTIVE if priority is None else priority, label=plan.label,
                                 origin=origin, purpose={**(purpose or {}), **extra}, follow_ups=ups)

    def attach_engine(self, engine: Any) -> None:
        """Give a session opened without an engine (to check a request first) its engine, and follow it."""
        if self.engine is not None:
            raise SongBridgeError("this session has an engine already")
        self.engine = engine
        self._pump = threading.Thread(target=self._pump_events, name="songbridge-session", daemon=True)
        self._pump.start()

    def submit(self, job: Any, purpose: dict[str, Any], origin: str = "app") -> str:
        purpose = {**purpose, "origin": origin}
        with self._mutex:
            job_id = self.engine.submit(job)
            self.jobs[job_id] = purpose
        self._publish(JobQueued(job_id, purpose.get("label") or getattr(job, "label", "") or "job", origin,
                                purpose))
        return job_id

    def cancel(self, job_id: str) -> bool:
        return bool(self.engine is not None and self.engine.cancel(job_id))

    def in_flight(self, **match: Any) -> list[str]:
        """Ids of queued or running jobs whose purpose has every ``key=value`` in ``match``."""
        with self._mutex:
            return [j for j, p in self.jobs.items() if all(p.get(k) == v for k, v in match.items())]

    def _pump_events(self) -> None:
        from engine.service import Cancelled, Failed, Finished, Progress

        while not self._stop.is_set():
            try:
                ev = self.engine.wait(0.1)
            except Exception:  # a broken connection is reported by the engine's own events
                log.exception("reading engine events")
                self._stop.wait(0.5)
                continue
            if ev is None:
                continue
            try:
                if isinstance(ev, Progress):
                    self._publish(JobProgress(ev.job_id, ev.step, ev.total, ev.eta_s))
                elif isinstance(ev, Finished):
                    try:
                        self._finished(ev)
                    except Exception as exc:  # the job must still end for whoever waits on it
                        log.exception("committing the takes of job %s", ev.job_id)
                        with self._mutex:
                            purpose = self.jobs.pop(ev.job_id, {})
                        self._publish(JobEnded(ev.job_id, "failed", (), purpose=purpose,
                                               error=f"the finished take could not be added to the project: "
                                                     f"{exc}"))
                elif isinstance(ev, Failed | Cancelled):
                    with self._mutex:
                        purpose = self.jobs.pop(ev.job_id, {})
                    kept = self._keep_finished(purpose)
                    state = "failed" if isinstance(ev, Failed) else "cancelled"
                    self._publish(JobEnded(ev.job_id, state, kept, error=getattr(ev, "error", ""), purpose=purpose))
            except Exception:  # the pump must outlive any event
                log.exception("while handling engine event %s", ev)

    def _finished(self, ev: Any) -> None:
        with self._mutex:
            tag = self.jobs.get(ev.job_id, {}).get("pending")
        if tag:  # a generate job's takes are the pending ones it asked for, each once: never an existing take
            seen: set[str] = set()
            for take in ev.takes:
                if not take.id.startswith(f"pending-{tag}-") or take.id in seen:
                    raise SongBridgeError(f"job {ev.job_id} returned take {take.id[:80]!r}, which it did not ask for")
                seen.add(take.id)
        with self._mutex:
            purpose = self.jobs.pop(ev.job_id, {})
        committed = self._commit(ev.job_id, ev.takes, purpose)
        ended = JobEnded(ev.job_id, "finished", tuple(committed), ev.render or None, purpose=purpose)
        followups.switch_lock_on(self, ended)  # before JobEnded: "done" means heard locked
        self._publish(ended)
        if purpose.get("kind") == "generate":
            self._split_neural(committed, purpose.get("origin", "app"))
        followups.run(self, ended)  # lock, split, land: what the request asked to follow

    def _split_neural(self, takes: list[Take], origin: str) -> None:
        """A neural take (one "song" stem) is split into vocal, drums, bass and other as soon as it is made, when
        a stem-separation model is installed (guide takes have their stems already)."""
        from engine.service import SplitJob
        from engine.settings import models_dir
        from engine.stems.files import find_model

        neural = [t for t in takes if t.stems == ("song",)]
        if not neural or not self.auto_split:
            return
        models = models_dir()[0]
        if find_model(models) is None:
            return
        for take in neural:
            self.submit(SplitJob(self.project.folder, take, models, label=f"split {take.id}"),
                        {"kind": "split", "take": take.id, "label": f"split {take.id} into stems"}, origin)

    def _commit(self, job_id: str, takes: Any, purpose: dict[str, Any]) -> list[Take]:
        """Name the finished takes, add them to the song, save; publishes TakesAdded."""
        from engine.backends.takes import commit_pending
        from engine.comp import stamp_lineage
        from engine.generation import next_take_ids, taken_on_disk

        committed: list[Take] = []
        events: list[Any] = []
        with self._mutex:
            before = song = self.project.song
            takes_dir = self.project.folder / "takes"
            for take in takes:
                if take.id.startswith("pending-"):
                    (new_id,) = next_take_ids(song, 1, taken_on_disk(self.project))
                    take = commit_pending(takes_dir, take, new_id, f"Take {new_id.split('-')[-1].lstrip('0')}")
                    take = stamp_lineage(song, take)
                song = song.with_take(take)
                committed.append(take)
            if committed:
                known = {t.id for t in before.takes}
                updated = [t.id for t in committed if t.id in known]  # a take analysed again: split, grid, lock
                label = (f"{purpose.get('label') or 'analysed'}: {', '.join(updated)}" if updated
                         else f"{len(committed)} new take(s)")
                events.append(self._set(song, before, label, purpose.get("origin", "app"), "takes"))
                version = self.version
        if committed:
            self._saver.request(version, song)
            events.append(TakesAdded(job_id, tuple(committed)))
        self._publish(*events)
        return committed

    def _keep_finished(self, purpose: dict[str, Any]) -> tuple[Take, ...]:
        """The takes a failed or cancelled multi-take job finished before it stopped become takes too."""
        from engine.backends.takes import PENDING, read_record

        tag = purpose.get("pending")
        if not tag:
            return ()
        done = []
        for p in sorted((self.project.folder / "takes").glob(f"{PENDING}{tag}-*")):
            try:
                if (p / "mix.wav").is_file():
                    done.append(replace(read_record(p), id=p.name[1:]))
            except SongBridgeError:
                continue
        return tuple(self._commit("", done, purpose)) if done else ()
