"""A command's headless session: when no program holds the project, the command opens it itself (``Session.open``,
or ``Session.create`` for a new one), checks its request, attaches an engine, makes its ONE session call and follows
that job and whatever the session queues after it (a neural take's split, a lock) with a progress bar until
everything ends; then the song is flushed to disk and the session closed by the caller. Ctrl-C cancels the jobs and
waits (briefly) for them to stop, so that the takes they finished are kept and nothing half-made is left behind.

When another program holds the project, the command goes there instead (``songbridge.holder``)."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from engine.errors import SongBridgeError

CANCEL_WAIT_S = 30.0  # after Ctrl-C: how long the jobs get to stop before the command leaves anyway


class _Watched:
    """The engine as the session's pump sees it, counting the pump's returns to ``wait``: once the pump has asked
    for the next event after a job ended, everything that job's end queued (follow-ups) is in ``session.jobs``."""

    def __init__(self, engine: Any):
        self._engine = engine
        self.waits = 0
        self.submitted: set[str] = set()  # every job this command queued, named by the session or not yet
        self._cond = threading.Condition()

    def submit(self, job: Any) -> str:
        job_id = str(self._engine.submit(job))
        self.submitted.add(job_id)
        return job_id

    def wait(self, timeout: float | None = None) -> Any:
        with self._cond:
            self.waits += 1
            self._cond.notify_all()
        return self._engine.wait(timeout)

    def settled_after(self, count: int, timeout: float = 10.0) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.waits > count, timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def open_engine_for(args: Any, spec: str | None = None) -> Any:
    """The engine the command's options name (``--engine``, ``--key-file``, ``--engine-ca``); ``spec`` overrides
    ``--engine`` (e.g. ``thread`` for a job that needs no model)."""
    from songbridge.engine_client import open_engine

    return open_engine(spec if spec is not None else getattr(args, "engine", None), getattr(args, "key_file", None),
                       getattr(args, "engine_ca", None))


def run_one(session: Any, engine: Any, call: Callable[[Any], str], label: str) -> Any:
    """Attach ``engine`` to ``session``, make the one session ``call`` (``session -> job id``), follow its job and
    the follow-ups the session queues after it until all end, flush the song; the engine is closed after. Returns
    the job's :class:`~engine.session.JobEnded`; raises SongBridgeError naming the job when it failed or was
    cancelled (the takes a multi-take job finished before are in the project)."""
    from songbridge.progress import ProgressBar

    watched = _Watched(engine)
    events: queue.Queue[Any] = queue.Queue()
    try:
        session.attach_engine(watched)
        unsubscribe = session.subscribe(events.put)
        bar = ProgressBar(label)
        try:
            job = call(session)
            ended = follow(session, events, job, bar, watched)
        except KeyboardInterrupt:  # also between the engine taking the job and the session naming it
            _cancel_all(session, watched)
            raise
        finally:
            bar.close()
            unsubscribe()
    finally:
        session.flush()
        engine.close()
    if ended.state != "finished":
        raise SongBridgeError(f"{label}: {ended.state}{': ' + ended.error if ended.error else ''}")
    return ended


def _running(watched: _Watched) -> set[str]:
    """This command's jobs the engine still has queued or running (on a shared engine, never another's)."""
    try:
        return {j.id for j in watched.jobs() if j.id in watched.submitted and j.state in ("queued", "running")}
    except Exception:  # noqa: BLE001 - an engine that cannot list its jobs: the session's list is all we know
        return set()


def _cancel_all(session: Any, watched: _Watched) -> None:
    """Cancel every job of this command and wait (up to CANCEL_WAIT_S) until they have stopped writing."""
    for j in set(session.in_flight()) | _running(watched):
        watched.cancel(j)
    deadline = time.monotonic() + CANCEL_WAIT_S
    try:
        while (session.in_flight() or _running(watched)) and time.monotonic() < deadline:
            time.sleep(0.1)
    except KeyboardInterrupt:  # a second Ctrl-C: leave now (the next open tidies what a job left)
        pass


def follow(session: Any, events: queue.Queue[Any], job: str, bar: Any, watched: _Watched | None = None) -> Any:
    """The job's progress until it ends, then its follow-ups (a neural take's split, a lock, ...) until they end
    too, each with a progress bar of its own and its end said on stderr. Returns the job's JobEnded."""
    from engine.session import FollowUpFailed, JobEnded, JobProgress, JobQueued
    from songbridge.progress import ProgressBar

    labels: dict[str, str] = {}
    bars: dict[str, Any] = {job: bar}
    waiting: set[str] = set()  # follow-ups queued whose end has not been heard yet
    ended = None
    mark, idle = 0, 0.0
    try:
        while True:
            if ended is not None:
                if watched is not None:
                    watched.settled_after(mark)
                if not session.in_flight():
                    idle = idle or time.monotonic()
                    # every follow-up's end heard (the session names a job's end just after it forgets the job)
                    if not waiting or time.monotonic() - idle > 5.0:
                        return ended
                else:
                    idle = 0.0
            try:
                ev = events.get(timeout=0.5)
            except queue.Empty:
                continue
            if isinstance(ev, JobQueued):
                labels[ev.job_id] = ev.label
                if ev.job_id != job:
                    waiting.add(ev.job_id)
            elif isinstance(ev, JobProgress):
                if ev.job_id not in bars and ev.job_id in labels:  # a follow-up started: a bar of its own
                    bars[ev.job_id] = ProgressBar(labels[ev.job_id])
                if ev.job_id in bars:
                    bars[ev.job_id](ev.step, ev.total)
            elif isinstance(ev, JobEnded) and ev.job_id == job:
                ended = ev
                bar.close()  # its line ends here: a follow-up's bar goes on the next
                mark = watched.waits if watched is not None else 0
            elif isinstance(ev, JobEnded):
                waiting.discard(ev.job_id)
                follow_bar = bars.pop(ev.job_id, None)
                if follow_bar is not None:
                    follow_bar.close()
                error = f": {ev.error}" if ev.error else ""
                print(f"{labels.get(ev.job_id, ev.job_id)}: {ev.state}{error}", file=sys.stderr)
            elif isinstance(ev, FollowUpFailed):
                print(f"could not {ev.action} {ev.take}: {ev.error}", file=sys.stderr)
    finally:
        for other, b in bars.items():
            if other != job:
                b.close()
