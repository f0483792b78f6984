"""The transport bar: return to start, play/pause, stop, loop, A/B, follow; the play head in bars|beats|ticks and
minutes:seconds; the song's tempo, meter and key; which take plays and which side of the A/B you hear; the
snap. Its actions are rows of the app's action table (``gui.actions``), also in the Transport menu.

While the song follows the DAW's transport (``daw.follow_transport``, the DAW link panel), the play head is the
DAW's (``DawPlayhead``): its quarter notes on the song's grid, moved on between the DAW's updates at its tempo."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QToolBar

from engine.song.tempo import Grid

EXTRAPOLATE_S = 0.3  # at most this long past the DAW's last word (Ardour's OSC speaks ten times a second)


class DawPlayhead:
    """``() -> (seconds, rolling)`` of the DAW's play head while the session follows it (else None): the last
    position heard (quarter notes, on the song's tempo map), moved on at the DAW's tempo while it rolls, never more
    than ``EXTRAPOLATE_S`` past the last update, so a stop or a locate shows as soon as the bridge hears it."""

    def __init__(self, session: Any, clock: Any = time.monotonic):
        self.session, self.clock = session, clock
        self._last: tuple[float | None, float] = (None, 0.0)  # (beats heard, when)

    def __call__(self) -> tuple[float, bool] | None:
        t = self.session.transport
        if not t.follow or t.beats is None:
            return None
        now = self.clock()
        if t.beats != self._last[0]:
            self._last = (t.beats, now)
        beats = t.beats
        if t.playing and t.bpm:
            beats += min(now - self._last[1], EXTRAPOLATE_S) * t.bpm / 60.0
        return max(0.0, self.session.song.tempo.quarters_to_seconds(beats)), bool(t.playing)


class TransportBar(QToolBar):
    """The toolbar: ``actions`` (the table's toolbar rows, ``gui.actions``) first, then the play head, the song's
    facts, what plays, and the snap."""

    def __init__(self, win: Any, actions: list[QAction]):
        super().__init__("Transport")
        self.win = win
        self.setObjectName("transport")
        self.addActions(actions)
        self.follow = next((a for a in actions if a.objectName() == "transport.follow"), None)
        self.position = QLabel()
        self.position.setObjectName("position")
        self.position.setToolTip("Play head: bar | beat | tick, and minutes:seconds")
        self.position.setStyleSheet("font-size: 15px; padding: 0 10px;")
        self.song_facts = QLabel()
        self.song_facts.setToolTip("The song's tempo, meter and key")
        self.now_playing = QLabel()
        self.now_playing.setToolTip("Which take plays, and which side of the A/B comparison you hear")
        for w in (self.position, self.song_facts, self.now_playing):
            self.addWidget(w)
        self.addSeparator()
        self.grid_box = QComboBox()
        self.grid_box.addItems([g.value for g in Grid] + ["free"])
        self.grid_box.setCurrentText(Grid.BEAT.value)
        self.grid_box.setToolTip("Snap for dragging lines and for selecting or locating in the ruler (hold Shift "
                                 "for free)")
        self.grid_box.currentTextChanged.connect(self._grid)
        self.addWidget(QLabel(" Snap "))
        self.addWidget(self.grid_box)
        win.timeline.daw_playhead = DawPlayhead(win.doc.session)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(50)
        self.refresh()

    def _grid(self, text: str) -> None:
        self.win.timeline.grid = None if text == "free" else next((g for g in Grid if g.value == text), Grid.BEAT)

    def refresh(self) -> None:
        win = self.win
        song = win.doc.song
        t = win.timeline.playhead_s
        minutes, seconds = divmod(t, 60.0)
        daw = " ⇄ DAW" if win.timeline.daw_playhead is not None and win.timeline.daw_playhead() is not None else ""
        self.position.setText(f"{song.tempo.seconds_to_bbt(t)}   {int(minutes):02d}:{seconds:06.3f}{daw}")
        self.song_facts.setText(f"♩ {song.tempo.bpm:g} bpm   {song.tempo.meter}   {song.key.tonic} {song.key.mode}")
        pl = win.player
        take_id = getattr(win, "_playing_take", None)
        if pl is None:
            self.now_playing.setText("  no audio device")
            return
        if take_id is None:
            song_text = getattr(win, "_playing_song", "")  # gui.loop_audition: the comp and the loops
            self.now_playing.setText(f"  {pl.state}: {song_text}" if song_text and pl.state != "stopped" else "")
            return
        try:
            name = song.take(take_id).name or take_id
        except KeyError:
            name = take_id
        side = getattr(pl, "active", "A")
        b_name = getattr(win, "_b_take", None)
        ab = (f"   A/B: hearing {side}" + (f" ({b_name})" if side == "B" else "")) if b_name else ""
        self.now_playing.setText(f"  {pl.state}: {name}{ab}")
