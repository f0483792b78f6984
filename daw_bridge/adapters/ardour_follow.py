"""Following Ardour's transport over its own OSC feedback, beside (or instead of) MIDI clock: Ardour pushes
``/position/bbt`` ("bar|beat|tick", 1920 ticks a beat) and ``/position/samples`` about ten times a second while it
rolls and at once when it is located while stopped, and ``/transport_play``/``/transport_stop`` when it starts and
stops. The position comes from Ardour's own bar and beat each time (so a tempo change while rolling cannot make it
drift, unlike a count of clock ticks), the tempo from how far the beats moved against the samples while rolling.

Latency of a locate while stopped: Ardour sends its feedback from a 100 ms timer (its OSC surface's periodic
callback), so waiting for it took 34-107 ms. While Ardour is stopped (or not yet heard rolling) the follower also
asks ``/transport_frame`` every ``POLL_S``, which Ardour answers at once from its OSC thread; a frame that moved is
turned into quarter notes through the session's tempo map (``SampleBeats``, read from the session file, anchored
again on every bar-and-beat Ardour sends, so a tempo change made in the running Ardour is followed) and emitted then;
Ardour's own bar and beat follows within its 100 ms and wins.

Protocol adapter only: the thread turns datagrams into ``TransportUpdate`` commands (source "Ardour
OSC") for the bridge's queue; the bridge changes the session. It asks for feedback with ``/set_surface`` again every
few seconds when Ardour says nothing, so a restarted Ardour is followed again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from daw_bridge import protocol as p
from daw_bridge.adapters.ardour import ArdourOsc

if TYPE_CHECKING:
    from daw_bridge.midi.bridge import Commands
    from engine.song.model import Song

TICKS_PER_BEAT = 1920  # Ardour 7's BBT ticks
RENEW_S = 3.0
POLL_S = 0.02  # asking /transport_frame while stopped: a locate reaches the song within this plus a round trip
SOURCE = "Ardour OSC"
SUPERCLOCK = 282_240_000.0  # Ardour 7's default superclock rate (the session file says its own)


def bbt_beats(text: str, beats_per_bar: int) -> float | None:
    """Quarter notes from bar 1 for Ardour's "BBB|bb|tttt" (None when it is not one)."""
    try:
        bar, beat, tick = (int(x) for x in text.strip().split("|"))
    except ValueError:
        return None
    return (bar - 1) * beats_per_bar + (beat - 1) + tick / TICKS_PER_BEAT


class SampleBeats:
    """Samples -> quarter notes from bar 1 through a tempo map: pieces (seconds, quarters, quarters a minute), each
    constant (a ramp is followed from Ardour's own bar and beat, which always wins)."""

    def __init__(self, rate: int, pieces: list[tuple[float, float, float]]):
        self.rate = rate
        self.pieces = sorted(pieces) or [(0.0, 0.0, 120.0)]
        self.anchored: float | None = None  # where the piece Ardour's own feedback made starts

    def beats(self, samples: int) -> float:
        t = samples / self.rate
        sec, q, qpm = self.pieces[0]
        for piece in self.pieces:
            if piece[0] <= t:
                sec, q, qpm = piece
        return q + (t - sec) * qpm / 60.0

    def anchor(self, samples: int, beats: float, qpm: float | None) -> None:
        """Ardour said ``beats`` at ``samples``: when the map disagrees by more than a tick (its tempo was changed in
        the running Ardour), the map from here on is that point at ``qpm`` (the tempo last measured). A later point
        at about the same tempo refines the tempo over the longer span instead (a tempo from 0.1 s of feedback is a
        little off, and a locate seconds away needs it to the tick)."""
        t = samples / self.rate
        if abs(self.beats(samples) - beats) <= 1 / TICKS_PER_BEAT:
            return
        t0, q0, last = self.pieces[-1]
        if self.anchored == t0 and t - t0 > 0.05 and beats > q0:
            implied = 60.0 * (beats - q0) / (t - t0)
            if abs(implied - (qpm or last)) < 0.02 * implied:
                self.pieces[-1] = (t0, q0, implied)
                return
        self.pieces = [x for x in self.pieces if x[0] < t] + [(t, beats, qpm or last)]
        self.anchored = t


def session_tempo_map(session_dir: object, rate: int) -> SampleBeats:
    """The tempo map Ardour 7 saved in the session file (each tempo's superclock and quarter-note position)."""
    import xml.etree.ElementTree as ET
    from pathlib import Path

    folder = Path(str(session_dir))
    pieces: list[tuple[float, float, float]] = []
    try:
        root = ET.parse(folder / f"{folder.name}.ardour").getroot()
    except (OSError, ET.ParseError):
        return SampleBeats(rate, pieces)
    tm = root.find(".//TempoMap")
    per_s = float(tm.get("superclocks-per-second", SUPERCLOCK)) if tm is not None else SUPERCLOCK
    for t in root.iter("Tempo"):
        if t.get("active", "1") == "0":
            continue
        try:
            q, ticks = (t.get("quarters") or "0:0").split(":")
            pieces.append((float(t.get("sclock", "0")) / per_s, int(q) + int(ticks) / TICKS_PER_BEAT,
                           float(t.get("npm", "120")) * 4.0 / float(t.get("note-type", "4"))))
        except (ValueError, ZeroDivisionError):
            continue
    return SampleBeats(rate, pieces)


class ArdourFollower:
    """Emits ``p.TransportUpdate``s from the Ardour at ``host:port``; ``close()`` stops it."""

    def __init__(self, emit: Callable[[p.TransportUpdate], None], host: str, port: int, sample_rate: int,
                 beats_per_bar: int = 4, tempo_map: SampleBeats | None = None):
        self.emit, self.target, self.rate, self.beats_per_bar = emit, (host, port), sample_rate, beats_per_bar
        self.map = tempo_map or SampleBeats(sample_rate, [])
        self.stopping = threading.Event()
        self.heard = 0  # messages from Ardour, for the panel
        self.last_heard = 0.0
        self.thread = threading.Thread(target=self._run, name="ardour-follow", daemon=True)

    def start(self) -> ArdourFollower:
        self.thread.start()
        return self

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)

    def _run(self) -> None:
        from pythonosc.osc_message import OscMessage

        link = ArdourOsc(*self.target, timeout=POLL_S / 2)
        asked = polled = time.monotonic()
        playing: bool | None = None
        last: tuple[int, float] | None = None  # (samples, beats) of the previous update
        samples: int | None = None
        beats: float | None = None
        stopped_at: int | None = None  # the frame last emitted from a poll
        bpm: float | None = None
        fresh = 0  # bit 1: samples heard since the last pair, bit 2: bar and beat
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                if now - max(asked, self.last_heard) > RENEW_S:
                    link.send("/set_surface", 0, 159, 16 + 1024 + 32, 0, 0, 0, 0)
                    asked = now
                if not playing and now - polled >= POLL_S:
                    try:
                        link.send("/transport_frame")
                    except OSError:
                        pass
                    polled = now
                try:
                    data, _ = link.sock.recvfrom(65535)
                except (TimeoutError, OSError):
                    continue
                try:
                    msg = OscMessage(data)
                except Exception:  # noqa: BLE001 - a bundle or noise: not what we follow
                    continue
                self.heard += 1
                self.last_heard = time.monotonic()
                args = list(msg.params)
                if msg.address == "/transport_frame" and args:
                    try:
                        frame = int(float(args[0]))
                    except (TypeError, ValueError):
                        continue
                    if not playing and frame != stopped_at and frame != samples:  # located while stopped
                        stopped_at = frame
                        self.emit(p.TransportUpdate(position_beats=self.map.beats(frame), source=SOURCE))
                    continue
                if msg.address == "/position/samples" and args:
                    try:
                        samples = int(float(args[0]))
                    except (TypeError, ValueError):
                        continue
                    fresh |= 1
                elif msg.address == "/position/bbt" and args:
                    got = bbt_beats(str(args[0]), self.beats_per_bar)
                    if got is None:
                        continue
                    beats = got
                    fresh |= 2
                    self.emit(p.TransportUpdate(position_beats=beats, source=SOURCE))
                if fresh == 3 and samples is not None and beats is not None:  # one update's pair, whatever order
                    fresh = 0
                    if playing and last is not None and samples > last[0] and beats > last[1]:
                        seconds = (samples - last[0]) / self.rate
                        if seconds > 0.05:
                            bpm = round(60.0 * (beats - last[1]) / seconds, 3)
                            self.emit(p.TransportUpdate(bpm=bpm, source=SOURCE))
                    self.map.anchor(samples, beats, bpm)
                    stopped_at = samples
                    last = (samples, beats)
                elif msg.address in ("/transport_play", "/transport_stop") and args:
                    now = bool(float(args[0])) == (msg.address == "/transport_play")
                    if now != playing:
                        playing = now
                        last = None
                        self.emit(p.TransportUpdate(playing=now, source=SOURCE))
        finally:
            link.close()


def follow_ardour(song: Song, commands: Commands) -> ArdourFollower | None:
    """A follower for the song's Ardour link (None for any other adapter, or a session that cannot be read):
    its updates go into the bridge's ``commands`` as if from the DAW's MIDI (no reply address)."""
    from pathlib import Path

    from daw_bridge.adapters.ardour import ArdourError, session_facts
    from daw_bridge.adapters.ardour_route import resolve_osc

    daw = song.daw
    if daw.adapter != "ardour" or not daw.session:
        return None
    try:
        facts = session_facts(Path(daw.session))
    except ArdourError:
        return None
    host, port = resolve_osc(Path(daw.session), (daw.host, daw.port))

    def emit(cmd: p.TransportUpdate) -> None:
        commands.put(p.Envelope(cmd, "ardour:osc", None, "midi"))

    return ArdourFollower(emit, host, port, facts.rate, song.tempo.meter.numerator,
                          session_tempo_map(daw.session, facts.rate)).start()
