"""The Loops panel: a prompt, a length in bars at a tempo (the song's unless changed), the bar it goes at (the play
head's unless changed), how many takes and the seed; which Stable Audio Open model will make it, how long that model
renders and its licence, and one line per Stable Audio model saying whether it is there or what is missing where
(the full report a click away). "Make loop" submits the takes to the session; they arrive as clips in the
timeline's Loops lane at their bar, never as takes of the song."""

from __future__ import annotations

import math
import secrets

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from engine.session.loops import MAX_LOOP_TAKES

from .backend_status import BackendLine, backend_line
from .document import DocumentModel
from .preferences import lines_html, show_details

LOOP_BACKENDS = ("stable-audio-small", "stable-audio")


class LoopsPanel(QWidget):
    submitted = Signal(str)  # job id

    def __init__(self, doc: DocumentModel):
        super().__init__()
        self.doc = doc
        form = QFormLayout(self)
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("e.g. dusty boom bap drum loop")
        self.prompt.setToolTip("What to make; the tempo and the bar count are added the way the model was trained")
        self.bars = QDoubleSpinBox()
        self.bars.setRange(0.25, 64)
        self.bars.setDecimals(2)
        self.bars.setSingleStep(1)
        self.bars.setValue(4)
        self.bpm = QDoubleSpinBox()
        self.bpm.setRange(20, 400)
        self.bpm.setDecimals(1)
        self.bpm.setSuffix(" bpm")
        self.follow = QCheckBox("song's")
        self.follow.setChecked(True)
        self.follow.setToolTip("Make the loop at the song's tempo")
        tempo = QHBoxLayout()
        tempo.addWidget(self.bpm, 1)
        tempo.addWidget(self.follow)
        self.at_bar = QDoubleSpinBox()
        self.at_bar.setRange(1, 100000)
        self.at_bar.setDecimals(0)
        self.at_bar.setToolTip("The bar the loop clip goes at (in the Loops lane, and in the DAW when it lands)")
        self.at_playhead = QCheckBox("play head")
        self.at_playhead.setChecked(True)
        self.at_playhead.setToolTip("Put the loop at the bar of the play head")
        self.at_playhead.toggled.connect(lambda on: self.at_bar.setEnabled(not on))
        self.at_bar.setEnabled(False)
        at_row = QHBoxLayout()
        at_row.addWidget(self.at_bar, 1)
        at_row.addWidget(self.at_playhead)
        self.takes = QSpinBox()
        self.takes.setRange(1, MAX_LOOP_TAKES)  # as many as the session queues in one request
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(secrets.randbelow(2**31))
        self.lock_seed = QCheckBox("lock")
        self.lock_seed.setToolTip("Keep this seed; otherwise each Make loop takes a new one")
        seed = QHBoxLayout()
        seed.addWidget(self.seed, 1)
        seed.addWidget(self.lock_seed)
        self.model_note = QLabel()
        self.model_note.setWordWrap(True)
        self.model_note.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.backend_status = QLabel()
        self.backend_status.setTextFormat(Qt.RichText)
        self.backend_status.setWordWrap(True)
        self.backend_status.linkActivated.connect(lambda name: show_details(self, self.lines.get(name)))
        self.lines: dict[str, BackendLine] = {}
        self.make = QPushButton("Make loop")
        self.make.setToolTip("Render the loop takes (they land at their bar with Land in DAW)")
        form.addRow("Prompt", self.prompt)
        form.addRow("Bars", self.bars)
        form.addRow("Tempo", tempo)
        form.addRow("At bar", at_row)
        form.addRow("Takes", self.takes)
        form.addRow("Seed", seed)
        form.addRow(self.model_note)
        form.addRow("Models", self.backend_status)
        form.addRow(self.make)
        for w in (self.bars, self.bpm, self.at_bar):
            w.valueChanged.connect(lambda _v: self.refresh())
        self.follow.toggled.connect(lambda _on: self.refresh())
        self.prompt.textChanged.connect(lambda _t: self.refresh())
        self.make.clicked.connect(self.make_loop)
        doc.songChanged.connect(self.refresh)
        self.refresh()

    def tempo(self) -> float:
        return self.doc.song.tempo.bpm if self.follow.isChecked() else self.bpm.value()

    def plan(self) -> tuple[str | None, float, str]:
        """(backend name or None, loop seconds, what to tell the producer)."""
        from engine.backends.base import BackendUnavailable
        from engine.backends.stable_audio.catalog import LICENCE, loop_backend, window_s
        from engine.backends.stable_audio.loops import loop_seconds
        from engine.settings import models_dir

        seconds = loop_seconds(self.bars.value(), self.tempo(), self.doc.song.tempo.meter.numerator)
        models = models_dir()[0]
        try:
            name = loop_backend(models, seconds)
        except BackendUnavailable:  # one line: what is missing and where it goes (details under Models)
            line = self.lines.get("stable-audio-small") or backend_line("stable-audio-small", models)
            return None, seconds, f"no loop model in {models} (what goes where: Models below)" if self.lines \
                else f"no loop model: {line.line}"
        window = window_s(models, name)
        label = "Stable Audio Open Small" if name.endswith("small") else "Stable Audio Open 1.0"
        if seconds > window + 1e-9:
            return None, seconds, f"{seconds:.2f} s is longer than {label} makes ({window:.1f} s)"
        return name, seconds, f"{seconds:.2f} s with {label} (up to {window:.1f} s); licence: {LICENCE}"

    def refresh(self) -> None:
        self.bpm.setEnabled(not self.follow.isChecked())
        if self.follow.isChecked():
            self.bpm.blockSignals(True)
            self.bpm.setValue(self.doc.song.tempo.bpm)
            self.bpm.blockSignals(False)
        name, _seconds, note = self.plan()
        why = self.bar_refused()
        self.model_note.setText(f"At bar: {why}" if why and name is not None else note)
        self.make.setEnabled(name is not None and bool(self.prompt.text().strip()) and not why)
        self.make.setToolTip(f"At bar: {why}" if why else "Render the loop takes (they land at their bar with "
                             "Land in DAW)")
        shown = [self.lines[n] for n in LOOP_BACKENDS if n in self.lines]
        self.backend_status.setText(lines_html(shown) if shown else "checking…")
        self.backend_status.setToolTip("\n\n".join(ln.details for ln in shown))

    def bar_refused(self) -> str:
        """Why the loop cannot go at the chosen bar (past the song's end), or ""."""
        from .loop_lane import past_end

        return past_end(self.doc.song, self.at_bar.value())

    def set_backend_lines(self, lines: list[BackendLine]) -> None:
        """The models folder was checked (in a thread): show its lines, and plan with it."""
        self.lines = {ln.name: ln for ln in lines}
        self.refresh()

    def follow_playhead(self, seconds: float) -> None:
        """The play head moved: a loop goes at its bar while "play head" is on."""
        if self.at_playhead.isChecked():
            tm = self.doc.song.tempo
            self.at_bar.setValue(max(1, math.floor(tm.seconds_to_bars(max(0.0, seconds)) + 1e-6)))  # its bar

    def make_loop(self) -> str | None:
        """"Make loop": one session call (``Session.make_loop``), which checks the whole request (prompt, bars,
        tempo, bar, the installed model's window) before anything is queued; a refusal is said here and in the
        status bar. Returns the job id, or None."""
        from engine.errors import SongBridgeError
        from engine.session.loops import MakeLoop

        why = self.bar_refused()
        if why:  # the Loops lane's rule (the DAW may put a loop past the song's end; the app and the CLI do not)
            self._refused(why, f"At bar: {why}")
            return None
        req = MakeLoop(" ".join(self.prompt.text().split()), self.bars.value(), self.tempo(), self.at_bar.value(),
                       self.takes.value(), self.seed.value())
        try:
            job = self.doc.session.make_loop(req, origin="app")
        except SongBridgeError as exc:
            self._refused(str(exc), str(exc))
            return None
        if not self.lock_seed.isChecked():
            self.seed.setValue((self.seed.value() + self.takes.value()) % 2**31)
        self.submitted.emit(job)
        return job

    def _refused(self, why: str, note: str) -> None:
        self.model_note.setText(note)
        status = getattr(self.window(), "statusBar", None)
        if status is not None:
            status().showMessage(f"no loop made: {why}", 8000)
