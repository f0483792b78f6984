"""The stems mixer: per stem, mute, solo, a gain fader in dB and a level meter, heard live in the player. The meters
read the player's levels (the peak of what it last fed the device) twenty times a second; the controls only send
the player commands."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QPushButton, QSlider, QWidget

from engine.song.model import STEM_SLOTS

FLOOR_DB = -60.0


def to_db(level: float) -> float:
    return FLOOR_DB if level <= 10 ** (FLOOR_DB / 20) else 20 * math.log10(level)


class StemMixer(QWidget):
    def __init__(self, player: Any = None, stems: tuple[str, ...] = STEM_SLOTS):
        super().__init__()
        self.player = player
        self.rows: dict[str, dict[str, Any]] = {}
        self.hold: dict[str, float] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        for i, stem in enumerate(stems):
            mute = QPushButton("M")
            mute.setCheckable(True)
            mute.setToolTip(f"Mute {stem}")
            solo = QPushButton("S")
            solo.setCheckable(True)
            solo.setToolTip(f"Solo {stem} (several can be soloed)")
            for b in (mute, solo):
                b.setFixedWidth(28)
            fader = QSlider(Qt.Horizontal)
            fader.setRange(-600, 120)  # tenths of a dB: -60 .. +12
            fader.setValue(0)
            fader.setToolTip(f"{stem} gain (double-click the value to reset to 0 dB)")
            value = QLabel("0.0 dB")
            value.setMinimumWidth(56)
            meter = QProgressBar()
            meter.setRange(int(FLOOR_DB * 10), 0)
            meter.setValue(int(FLOOR_DB * 10))
            meter.setTextVisible(False)
            meter.setFixedHeight(10)
            meter.setToolTip(f"{stem} level (peak, dBFS)")
            grid.addWidget(QLabel(stem), i, 0)
            grid.addWidget(mute, i, 1)
            grid.addWidget(solo, i, 2)
            grid.addWidget(fader, i, 3)
            grid.addWidget(value, i, 4)
            grid.addWidget(meter, i, 5)
            mute.toggled.connect(lambda on, s=stem: self._send("mute", s, on))
            solo.toggled.connect(lambda on, s=stem: self._send("solo", s, on))
            fader.valueChanged.connect(lambda v, s=stem: self._gain(s, v / 10))
            value.mouseDoubleClickEvent = lambda _e, f=fader: f.setValue(0)  # type: ignore[method-assign]
            self.rows[stem] = {"mute": mute, "solo": solo, "fader": fader, "value": value, "meter": meter,
                               "label": grid.itemAtPosition(i, 0).widget()}
        grid.setColumnStretch(3, 1)
        grid.setColumnStretch(5, 1)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(50)
        self.setEnabled(player is not None)
        if player is None:
            self.setToolTip("no audio device")

    def show_only(self, stems: set[str]) -> None:
        """Rows for the stems the song's takes have (the guide's four, or a split take's vocal/drums/bass/other)."""
        for stem, row in self.rows.items():
            for w in row.values():
                w.setVisible(stem in stems)

    def _send(self, kind: str, stem: str, on: bool) -> None:
        if self.player is not None:
            getattr(self.player, kind)(stem, on)

    def _gain(self, stem: str, db: float) -> None:
        self.rows[stem]["value"].setText(f"{db:+.1f} dB" if db else "0.0 dB")
        if self.player is not None:
            self.player.set_gain(stem, 10 ** (db / 20))

    def refresh(self) -> None:
        levels = self.player.levels() if self.player is not None and hasattr(self.player, "levels") else {}
        for stem, row in self.rows.items():
            db = to_db(levels.get(stem, 0.0))
            held = max(db, self.hold.get(stem, FLOOR_DB) - 1.5)  # fall back 30 dB a second
            self.hold[stem] = held
            row["meter"].setValue(int(held * 10))
