"""The GUI's view of the jobs: what the session reports (jobs from the app and from the DAW alike), re-emitted
as signals on the GUI thread; cancel never blocks. Jobs are queued by session calls (generate, split, render...),
never here."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.session import JobEnded, JobProgress, JobQueued, Session


class EngineClient(QObject):
    progress = Signal(str, int, int, float)  # job, step, total, seconds left (-1: not known)
    finished = Signal(str, object)  # job, JobEnded (its takes are in the song already)
    failed = Signal(str, str)  # job, message
    cancelled = Signal(str)
    queued = Signal(str, str)  # job, label (from the DAW: "… (from DAW)")
    _arrived = Signal(object)

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.labels: dict[str, str] = {}
        self._arrived.connect(self._on_event)
        self._unsubscribe = session.subscribe(self._arrived.emit)

    @property
    def service(self) -> Any:
        return self.session.engine

    def cancel(self, job_id: str) -> None:
        self.session.cancel(job_id)

    def _on_event(self, ev: Any) -> None:
        if isinstance(ev, JobQueued):
            label = ev.label + (" (from DAW)" if ev.origin == "daw" else "")
            self.labels[ev.job_id] = label
            self.queued.emit(ev.job_id, label)
        elif isinstance(ev, JobProgress):
            self.progress.emit(ev.job_id, ev.step, ev.total, -1.0 if ev.eta_s is None else float(ev.eta_s))
        elif isinstance(ev, JobEnded) and ev.state == "finished":
            self.finished.emit(ev.job_id, ev)
        elif isinstance(ev, JobEnded) and ev.state == "failed":
            self.failed.emit(ev.job_id, ev.error)
        elif isinstance(ev, JobEnded):
            self.cancelled.emit(ev.job_id)

    def close(self) -> None:
        self._unsubscribe()
