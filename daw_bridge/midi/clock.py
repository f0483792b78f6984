"""Following a DAW's MIDI clock: tempo from 24-ppqn clock ticks (averaged over at least 24, because JACK delivers
clocks in bursts per period), start/continue/stop, Song Position Pointer and MMC transport commands.

SPP is "MIDI beats" (sixteenths) by the spec, but Ardour 7 sends it in clocks (24 per quarter, 6x the spec):
``spp_unit`` is "sixteenths", "clocks", or "auto", which takes clocks when the DAW is Ardour and otherwise checks
that the position makes sense (a sixteenths reading far past the song's end while the clocks reading fits it).

The position moves with every tick while playing (a position update per tick; the bridge's inbox coalesces them).
The tempo is unknown after start, continue, stop, a Song Position Pointer or a gap in the ticks, until
``min_ticks`` new ticks have arrived: a reading across a restart would be wild, so none is given.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

from daw_bridge import protocol as p

GAP_S = 0.5  # no tick for this long (under 5 bpm): the clock stopped, old ticks say nothing about the tempo
MMC = {0x01: "stop", 0x02: "play", 0x03: "play", 0x09: "pause", 0x04: "ff", 0x05: "rew"}


class ClockFollower:
    def __init__(self, emit: Callable[[p.Command], None], *, window: int = 96, min_ticks: int = 48,
                 spp_unit: str = "auto", daw: str = "generic", song_quarters: float = 0.0,
                 clock: Callable[[], float] = time.monotonic):
        self.emit = emit
        self.ticks: collections.deque[float] = collections.deque(maxlen=window)
        self.min_ticks = min_ticks
        self.spp_unit = spp_unit
        self.daw = daw
        self.song_quarters = song_quarters
        self.clock = clock
        self.bpm: float | None = None
        self.beats = 0.0
        self.playing = False
        self._since_emit = 0
        self._at_downbeat = False

    def tempo(self) -> float | None:
        """bpm from a least-squares line through the last ticks' times (robust to bursty delivery)."""
        n = len(self.ticks)
        if n < self.min_ticks:
            return None
        ts = list(self.ticks)
        mean_i, mean_t = (n - 1) / 2, sum(ts) / n
        num = sum((i - mean_i) * (t - mean_t) for i, t in enumerate(ts))
        den = sum((i - mean_i) ** 2 for i in range(n))
        period = num / den if den else 0.0
        return 60.0 / (24.0 * period) if period > 0 else None

    def spp_quarters(self, value: int) -> float:
        unit = self.spp_unit
        if unit == "auto":
            if self.daw == "ardour":
                unit = "clocks"
            elif self.song_quarters and value / 4 > 2 * self.song_quarters >= value / 24:
                unit = "clocks"
            else:
                unit = "sixteenths"
        return value / 24.0 if unit == "clocks" else value / 4.0

    def _forget_tempo(self) -> None:
        self.ticks.clear()
        self.bpm = None
        self._since_emit = 0

    def feed(self, msg: object) -> None:
        kind = getattr(msg, "type", "")
        if kind == "clock":
            stamp = getattr(msg, "time", None)  # the driver's timestamp when there is one
            stamp = self.clock() if stamp is None else float(stamp)
            if self.ticks and (stamp - self.ticks[-1] > GAP_S or stamp < self.ticks[-1]):
                self._forget_tempo()
                self.emit(p.TransportUpdate(tempo_known=False))
            self.ticks.append(stamp)
            self._since_emit += 1
            update: dict[str, object] = {}
            if self.playing and self._at_downbeat:
                self._at_downbeat = False  # the first clock after Start/Continue sounds the position itself
            elif self.playing:
                self.beats += 1 / 24
                update["position_beats"] = self.beats
            if self._since_emit >= 24 or (self.bpm is None and len(self.ticks) >= self.min_ticks):
                self._since_emit = 0
                bpm = self.tempo()
                if bpm is not None and math.isfinite(bpm) and (self.bpm is None or abs(bpm - self.bpm) > 0.05):
                    self.bpm = bpm
                    update["bpm"] = round(bpm, 2)
            if update:
                self.emit(p.TransportUpdate(**update))  # type: ignore[arg-type]
        elif kind == "start":
            self.playing, self.beats, self._at_downbeat = True, 0.0, True
            self._forget_tempo()
            self.emit(p.TransportUpdate(playing=True, position_beats=0.0, tempo_known=False))
        elif kind == "continue":
            self.playing, self._at_downbeat = True, True
            self._forget_tempo()
            self.emit(p.TransportUpdate(playing=True, position_beats=self.beats, tempo_known=False))
        elif kind == "stop":
            self.playing = False
            self._forget_tempo()
            self.emit(p.TransportUpdate(playing=False, position_beats=self.beats, tempo_known=False))
        elif kind == "songpos":
            self.beats = self.spp_quarters(getattr(msg, "pos", 0))
            self._forget_tempo()
            self.emit(p.TransportUpdate(position_beats=self.beats, tempo_known=False))
        elif kind == "sysex":
            data = tuple(getattr(msg, "data", ()))
            if len(data) >= 4 and data[0] == 0x7F and data[2] == 0x06:
                cmd = MMC.get(data[3])
                if cmd in ("play", "stop", "pause"):
                    self.playing = cmd == "play"
                    self.emit(p.TransportUpdate(playing=self.playing))
