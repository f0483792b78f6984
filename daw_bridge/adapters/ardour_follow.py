"""Following Ardour's transport over its own OSC feedback, beside (or instead of) MIDI clock: Ardour pushes
``/position/bbt`` ("bar|beat|tick", 1920 ticks a beat) and ``/position/samples`` about ten times a second while it
rolls and at once when it is located while stopped, and ``/transport_play``/``/transport_stop`` when it starts and
stops. The position comes from Ardour's own bar and beat each time (so a tempo change while rolling cannot make it
drift, unlike a count of clock ticks), the tempo from how far the beats moved against the samples while rolling.

Protocol adapter only (STYLE.md 10): the thread turns datagrams into ``TransportUpdate`` commands (source "Ardour
OSC") for the bridge's queue; the bridge changes the session. It asks for feedback with ``/set_surface`` again every
few seconds when Ardour says nothing, so a restarted Ardour is followed again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from daw_bridge import protocol as p
from daw_bridge.adapters.ardour import ArdourOsc

TICKS_PER_BEAT = 1920  # Ardour 7's BBT ticks
RENEW_S = 3.0
SOURCE = "Ardour OSC"


def bbt_beats(text: str, beats_per_bar: int) -> float | None:
    """Quarter notes from bar 1 for Ardour's "BBB|bb|tttt" (None when it is not one)."""
    try:
        bar, beat, tick = (int(x) for x in text.strip().split("|"))
    except ValueError:
        return None
    return (bar - 1) * beats_per_bar + (beat - 1) + tick / TICKS_PER_BEAT


class ArdourFollower:
    """Emits ``p.TransportUpdate``s from the Ardour at ``host:port``; ``close()`` stops it."""

    def __init__(self, emit: Callable[[p.TransportUpdate], None], host: str, port: int, sample_rate: int,
                 beats_per_bar: int = 4):
        self.emit, self.target, self.rate, self.beats_per_bar = emit, (host, port), sample_rate, beats_per_bar
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
        from pythonosc.osc_message import OscMessage  # noqa: PLC0415

        link = ArdourOsc(*self.target, timeout=0.2)
        asked = time.monotonic()
        playing: bool | None = None
        last: tuple[int, float] | None = None  # (samples, beats) of the previous update
        samples: int | None = None
        beats: float | None = None
        fresh = 0  # bit 1: samples heard since the last pair, bit 2: bar and beat
        try:
            while not self.stopping.is_set():
                if time.monotonic() - max(asked, self.last_heard) > RENEW_S:
                    link.send("/set_surface", 0, 159, 16 + 1024 + 32, 0, 0, 0, 0)
                    asked = time.monotonic()
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
                            self.emit(p.TransportUpdate(bpm=round(60.0 * (beats - last[1]) / seconds, 3),
                                                        source=SOURCE))
                    last = (samples, beats)
                elif msg.address in ("/transport_play", "/transport_stop") and args:
                    now = bool(float(args[0])) == (msg.address == "/transport_play")
                    if now != playing:
                        playing = now
                        last = None
                        self.emit(p.TransportUpdate(playing=now, source=SOURCE))
        finally:
            link.close()


def follow_ardour(song: object, commands: object) -> ArdourFollower | None:
    """A follower for the song's Ardour link (None for any other adapter, or a session that cannot be read):
    its updates go into the bridge's ``commands`` as if from the DAW's MIDI (no reply address)."""
    from pathlib import Path  # noqa: PLC0415

    from daw_bridge.adapters.ardour import ArdourError, session_facts  # noqa: PLC0415
    from daw_bridge.adapters.ardour_route import resolve_osc  # noqa: PLC0415

    daw = song.daw  # type: ignore[attr-defined]
    if daw.adapter != "ardour" or not daw.session:
        return None
    try:
        facts = session_facts(Path(daw.session))
    except ArdourError:
        return None
    host, port = resolve_osc(Path(daw.session), (daw.host, daw.port))

    def emit(cmd: p.TransportUpdate) -> None:
        commands.put(p.Envelope(cmd, "ardour:osc", None, "midi"))  # type: ignore[attr-defined]

    return ArdourFollower(emit, host, port, facts.rate, song.tempo.meter.numerator).start()  # type: ignore[attr-defined]
