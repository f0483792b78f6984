"""The transport bar: return to start, play/pause, stop, loop, A/B, follow; the play head in bars|beats|ticks and
minutes:seconds; the song's tempo, meter and key; which take plays and which side of the A/B you hear; zoom and
snap. Its actions are also the Transport and View menus, with their keys in the tooltips.

While the song follows the DAW's transport (``daw.follow_transport``, the DAW link panel), the play head is the
DAW's (``DawPlayhead``): its quarter notes on the song's grid, moved on between the DAW's updates at its tempo."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
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
    def __init__(self, win: Any):
        super().__init__("Transport")
        self.win = win
        self.setObjectName("transport")
        tm = win.menuBar().addMenu("&Transport")
        for text, key, slot, tip in (
                ("|◀ Start", "Home", win.return_to_start, "Return to the start of the song"),
                ("▶ Play/Pause", "Space", win.toggle_play, "Play the song as it will be landed (each section's chosen "
                 "take, the loops at their bars) from the play head, or pause; double-click a take to hear it alone"),
                ("■ Stop", "Ctrl+Space", win.stop, "Stop and go back to where playing started"),
                ("Loop selection", "L", win.loop, "Loop the range selected in the ruler (snapped to the grid)"),
                ("A/B", "B", win.ab, "Switch between the take playing (A) and the one before it (B)")):
            tm.addAction(self._action(text, key, slot, tip))
        self.follow = self._action("Follow", "F", lambda on: setattr(win.timeline, "follow", on),
                                   "Keep the play head in view while playing", checkable=True)
        self.follow.setChecked(True)
        tm.addAction(self.follow)
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
        vm = win.menuBar().addMenu("&View")
        for text, key, slot in (("Zoom in", "+", lambda: win.timeline.zoom(1.25)),
                                ("Zoom out", "-", lambda: win.timeline.zoom(0.8)),
                                ("Zoom to fit the song", "Ctrl+0", win.timeline.fit)):
            vm.addAction(self._action(text, key, slot, text))
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

    def _action(self, text: str, key: str, slot: Any, tip: str, checkable: bool = False) -> QAction:
        a = QAction(text, self.win)
        a.setShortcut(QKeySequence(key))
        a.setShortcutContext(Qt.WindowShortcut)
        a.setToolTip(f"{tip} ({key})")
        a.setCheckable(checkable)
        (a.toggled if checkable else a.triggered).connect(slot)
        self.addAction(a)
        return a

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
