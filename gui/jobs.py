"""The jobs strip: one row per job with its progress, elapsed time and ETA, and a Cancel that answers at once."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class JobsStrip(QWidget):
    """One row per job: what it is, how far it got, how long it has run and about how long it has left, and a
    Cancel that answers at once. The strip keeps its height, so a job appearing does not move the layout."""

    cancel = Signal(str)

    def __init__(self):
        super().__init__()
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(4, 4, 4, 4)
        self.rows: dict[str, tuple[QWidget, QProgressBar]] = {}
        self.labels: dict[str, str] = {}  # every job shown, with its label and (once over) how it ended
        self.started: dict[str, float] = {}
        self.keep_ms = 6000  # a finished job stays in the strip this long, saying what it made
        self.idle = QLabel("no jobs running")
        self.idle.setEnabled(False)
        self.layout_.addWidget(self.idle)
        self.setMinimumHeight(3 * 30)

    def add(self, job_id: str, label: str) -> None:
        import time

        self.labels[job_id] = label
        self.started[job_id] = time.monotonic()
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        bar = QProgressBar()
        bar.setFormat(f"{label} — queued")
        btn = QPushButton("Cancel")
        btn.setToolTip("Stop this job at its next step")
        btn.clicked.connect(lambda: self._cancel(job_id, bar, btn))
        h.addWidget(bar, 1)
        h.addWidget(btn)
        self.layout_.addWidget(row)
        self.rows[job_id] = (row, bar)
        self.idle.hide()

    def _cancel(self, job_id: str, bar: QProgressBar, btn: QPushButton) -> None:
        btn.setEnabled(False)
        btn.setText("Cancelling…")
        bar.setFormat(f"{self.labels.get(job_id, 'job')} — cancelling at the next step…")
        self.cancel.emit(job_id)

    def progress(self, job_id: str, step: int, total: int, eta_s: float = -1.0) -> None:
        import time

        if job_id not in self.rows:
            return
        bar = self.rows[job_id][1]
        bar.setMaximum(max(1, total))
        bar.setValue(step)
        if bar.format().endswith("cancelling at the next step…"):
            return
        elapsed = time.monotonic() - self.started.get(job_id, time.monotonic())
        left = f", about {clock(eta_s)} left" if eta_s >= 0 else ""
        bar.setFormat(f"{self.labels.get(job_id, 'job')} — step {step}/{max(1, total)} (%p%), "
                      f"{clock(elapsed)} elapsed{left}")

    def done(self, job_id: str, outcome: str = "") -> None:
        row = self.rows.pop(job_id, None)
        if row is None:
            return
        widget, bar = row
        label = self.labels.get(job_id, "job")
        if outcome:
            self.labels[job_id] = f"{label} — {outcome}"
            bar.setMaximum(1)
            bar.setValue(1)
            bar.setFormat(self.labels[job_id])
            bar.setToolTip(self.labels[job_id])
            for b in widget.findChildren(QPushButton):
                b.setEnabled(False)
            QTimer.singleShot(self.keep_ms, self, lambda: self._gone(widget))
        else:
            self._gone(widget)

    def _gone(self, widget: QWidget) -> None:
        widget.deleteLater()
        if not self.rows:
            self.idle.show()


