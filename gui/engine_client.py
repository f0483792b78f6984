"""The GUI's view of the engine service: submit and cancel never block; a timer drains events on the GUI thread
and re-emits them as signals (STYLE.md 13)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal


class EngineClient(QObject):
    progress = Signal(str, int, int)  # job, step, total
    finished = Signal(str, object)  # job, Finished event
    failed = Signal(str, str)  # job, message
    cancelled = Signal(str)
    queued = Signal(str, str)  # job, label

    def __init__(self, service: Any, interval_ms: int = 30):
        super().__init__()
        self.service = service
        self.labels: dict[str, str] = {}
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.drain)
        self.timer.start(interval_ms)

    def submit(self, job: Any) -> str:
        job_id = self.service.submit(job)
        self.labels[job_id] = getattr(job, "label", "") or "job"
        self.queued.emit(job_id, self.labels[job_id])
        return job_id

    def cancel(self, job_id: str) -> None:
        self.service.cancel(job_id)

    def drain(self) -> None:
        from engine.service import Cancelled, Failed, Finished, Progress  # noqa: PLC0415

        for ev in self.service.events(max_events=200):
            if isinstance(ev, Progress):
                self.progress.emit(ev.job_id, ev.step, ev.total)
            elif isinstance(ev, Finished):
                self.finished.emit(ev.job_id, ev)
            elif isinstance(ev, Failed):
                self.failed.emit(ev.job_id, ev.error)
            elif isinstance(ev, Cancelled):
                self.cancelled.emit(ev.job_id)

    def close(self) -> None:
        self.timer.stop()
        self.service.close()
