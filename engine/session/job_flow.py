"""The session's jobs: queue one with its :class:`~engine.session.purpose.Purpose`, follow the engine's events,
commit a finished job's takes (ids given at commit), and run what follows it (``followups.py``). Mixed into
:class:`engine.session.Session`; every producer action ends in :meth:`JobFlow.submit`."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import SongBridgeError

from . import followups
from .events import JobEnded, JobProgress, JobQueued, TakesAdded
from .purpose import UNKNOWN, Purpose

if TYPE_CHECKING:
    from engine.service.protocol import Engine
    from engine.song.model import Take
    from engine.song.project import Project

log = logging.getLogger("songbridge.session")


class JobFlow:
    """Queue, follow and commit jobs (``self`` is the Session)."""

    engine: Engine | None
    project: Project
    jobs: dict[str, Purpose]
    backend_settings: dict[str, Any]
    auto_split: bool
    version: int
    _mutex: threading.RLock
    _stop: threading.Event
    _pump: threading.Thread | None
    _saver: Any

    if TYPE_CHECKING:  # the Session's own
        def _publish(self, *events: Any) -> None: ...
        def _set(self, new: Any, before: Any, label: str, origin: str, kind: str) -> Any: ...

    @property
    def models(self) -> Path:
        """The models folder this session's jobs read (the app's or the command's ``--models``, else the default)."""
        from engine.settings import models_dir

        chosen = self.backend_settings.get("models_dir")
        return Path(chosen).expanduser() if chosen else models_dir()[0]

    def _engine(self) -> Engine:
        if self.engine is None:
            raise SongBridgeError("this session has no engine")
        return self.engine

    def attach_engine(self, engine: Engine) -> None:
        """Give a session opened without an engine (to check a request first) its engine, and follow it."""
        if self.engine is not None:
            raise SongBridgeError("this session has an engine already")
        self.engine = engine
        self._follow_engine()

    def _follow_engine(self) -> None:
        pump = threading.Thread(target=self._pump_events, name="songbridge-session", daemon=True)
        pump.start()
        self._pump = pump  # only a started thread: close() may come at any moment (Ctrl-C)

    def submit(self, job: Any, purpose: Purpose) -> str:
        """Queue ``job`` on the engine; the session keeps ``purpose`` until it ends. Returns the job id."""
        if not isinstance(purpose, Purpose):
            raise SongBridgeError(f"a job's purpose must be a Purpose, got {type(purpose).__name__}")
        if not purpose.label:
            purpose = replace(purpose, label=getattr(job, "label", "") or purpose.kind)
        engine = self._engine()
        with self._mutex:
            job_id = engine.submit(job)
            self.jobs[job_id] = purpose
        self._publish(JobQueued(job_id, purpose.label, purpose.origin, purpose))
        return job_id

    def job_states(self) -> list[Any]:
        """Every job the engine knows (``engine.service.JobInfo``: id, label, state, step, total)."""
        return list(self._engine().jobs())

    def cancel(self, job_id: str) -> bool:
        return bool(self.engine is not None and self.engine.cancel(job_id))

    def in_flight(self, **match: Any) -> list[str]:
        """Ids of queued or running jobs whose purpose has every ``field=value`` in ``match`` (e.g. ``kind="lock"``,
        ``client="10.0.0.2"``)."""
        with self._mutex:
            return [j for j, p in self.jobs.items() if all(getattr(p, k, None) == v for k, v in match.items())]

    def _pump_events(self) -> None:
        from engine.service import Cancelled, Failed, Finished, Progress

        engine = self._engine()
        while not self._stop.is_set():
            try:
                ev = engine.wait(0.1)
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
                            purpose = self.jobs.pop(ev.job_id, UNKNOWN)
                        self._publish(JobEnded(ev.job_id, "failed", (), purpose=purpose,
                                               error=f"the finished take could not be added to the project: "
                                                     f"{exc}"))
                elif isinstance(ev, Failed | Cancelled):
                    with self._mutex:
                        purpose = self.jobs.pop(ev.job_id, UNKNOWN)
                    kept = self._keep_finished(purpose)
                    state = "failed" if isinstance(ev, Failed) else "cancelled"
                    self._publish(JobEnded(ev.job_id, state, kept, error=getattr(ev, "error", ""), purpose=purpose))
            except Exception:  # the pump must outlive any event
                log.exception("while handling engine event %s", ev)

    def _finished(self, ev: Any) -> None:
        with self._mutex:
            tag = self.jobs.get(ev.job_id, UNKNOWN).pending
        if tag:  # a generate job's takes are the pending ones it asked for, each once: never an existing take
            seen: set[str] = set()
            for take in ev.takes:
                if not take.id.startswith(f"pending-{tag}-") or take.id in seen:
                    raise SongBridgeError(f"job {ev.job_id} returned take {take.id[:80]!r}, which it did not ask for")
                seen.add(take.id)
        with self._mutex:
            purpose = self.jobs.pop(ev.job_id, UNKNOWN)
        committed = self._commit(ev.job_id, ev.takes, purpose)
        ended = JobEnded(ev.job_id, "finished", tuple(committed), ev.render or None, purpose=purpose)
        followups.switch_lock_on(self, ended)  # type: ignore[arg-type]  # before JobEnded: "done" means heard locked
        self._publish(ended)
        if purpose.kind == "generate":
            self._split_neural(committed, purpose)
        followups.run(self, ended)  # type: ignore[arg-type]  # lock, split, land: what the request asked to follow

    def _split_neural(self, takes: list[Take], made_by: Purpose) -> None:
        """Session policy: a neural take (one "song" stem) is split into vocal, drums, bass and other as soon as it
        is made, when a stem-separation model is installed (guide takes have their stems already)."""
        from engine.service import SplitJob
        from engine.stems.files import find_model

        neural = [t for t in takes if t.stems == ("song",)]
        if not neural or not self.auto_split:
            return
        models = self.models
        if find_model(models) is None:
            return
        for take in neural:
            self.submit(SplitJob(self.project.folder, take, models, label=f"split {take.id}"),
                        Purpose("split", f"split {take.id} into stems", made_by.origin, take=take.id,
                                section=made_by.section, requester=made_by.requester))

    def _commit(self, job_id: str, takes: Any, purpose: Purpose) -> list[Take]:
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
                label = (f"{purpose.label or 'analysed'}: {', '.join(updated)}" if updated
                         else f"{len(committed)} new take(s)")
                events.append(self._set(song, before, label, purpose.origin, "takes"))
                version = self.version
        if committed:
            self._saver.request(version, song)
            events.append(TakesAdded(job_id, tuple(committed)))
        self._publish(*events)
        return committed

    def _keep_finished(self, purpose: Purpose) -> tuple[Take, ...]:
        """The takes a failed or cancelled multi-take job finished before it stopped become takes too."""
        from engine.backends.takes import PENDING, read_record

        tag = purpose.pending
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
