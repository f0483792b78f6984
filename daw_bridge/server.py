"""The DAW bridge: commands from OSC and MIDI -> calls on the session core; the session's changes -> replies and
pushes to the DAW. The bridge keeps no copy of the song: the session owns it, and the app (when it hosts the
bridge) sees every change at once.

The bridge only translates: each command type has one handler (``dispatch.HANDLERS``: one session call or one reply);
what follows a job (a lock, a landing) is the session's (``engine/session/followups.py``), and the bridge registers
the session's lander (``land_jobs.DawLander``) and answers the session's events (``replies.py``).

Threads: the OSC thread calls :meth:`Bridge.put` for every command; cheap reads (ping, get, job status:
``dispatch.QUICK``) are answered there from the session's immutable song, the rest goes to the inbox, which the
control thread empties. Sets are
acknowledged only when the session has saved them (they survive ``kill -9``), and checked whole first, the size of
their answer included: a set that could not be answered is refused, never applied.

What a client may ask is bounded per host (``limits.py``): jobs, takes, bytes written a minute, subscriptions (which
expire, and need an address that has proven itself: ``osc/gate.py``), and error replies per datagram.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daw_bridge import protocol as p
from daw_bridge import replies
from daw_bridge.adapters.ardour_follow import follow_ardour
from daw_bridge.dispatch import HANDLERS, MAX_REPLY, QUICK, remember_follow
from daw_bridge.inbox import Inbox
from daw_bridge.land_jobs import DawLander
from daw_bridge.limits import Limits, Listeners, Quota
from daw_bridge.osc.replies import message
from daw_bridge.song_props import TooLarge, song_value, transport_value
from engine.errors import DocumentError, SongBridgeError
from engine.session.regenerate import find_section

if TYPE_CHECKING:
    from engine.session import Session

log = logging.getLogger("songbridge.bridge")
ROOT = "/songbridge"
ADMIN_TOKEN_ENV = "SONGBRIDGE_OSC_ADMIN_TOKEN"
MAX_JOBS_PER_CLIENT = Limits.jobs_per_host  # queued or running jobs one host may have (any number of ports)
__all__ = ["MAX_REPLY", "Bridge", "Limits", "Peer"]


@dataclass
class Peer:
    """A client seen on OSC (or MIDI): for the app's DAW link panel."""

    address: str
    last: str = ""
    when: float = 0.0
    count: int = 0


class Bridge:
    def __init__(self, session: Session, send: Callable[[bytes, tuple[str, int]], None], player: Any = None,
                 auto_land: bool = False, land_folder: Path | None = None, version: str = "0",
                 limits: Limits | None = None, admin_token: str | None = None):
        self.session = session
        self.send_raw = send
        self.player = player
        if auto_land:  # ``serve --auto-land``: the session lands every take a job makes (its policy)
            session.auto_land = True
        self.land_folder = land_folder
        self.lander = DawLander(self, land_folder)
        self.ardour_follow: Any = None  # following Ardour's own OSC feedback (``adapters.ardour_follow``)
        # set by whoever starts the bridge (``songbridge serve``, the app): the OSC server, the MIDI ports
        self.osc: Any = None
        self.midi_ports: Any = None
        self.midi_note = "MIDI off"
        self.follower: Any = None
        self.midi_keeper: Any = None
        self.version = version
        self.limits = limits or Limits()
        #: cancels any client's jobs (``/songbridge/job/cancel s:job s:token``): given, else
        #: ``$SONGBRIDGE_OSC_ADMIN_TOKEN``, else a random one (no client can know it)
        self.admin_token = admin_token or os.environ.get(ADMIN_TOKEN_ENV) or secrets.token_urlsafe(18)
        if len(self.admin_token) < 16:
            raise SongBridgeError(f"the OSC admin token (${ADMIN_TOKEN_ENV}) must be at least 16 characters")
        self.commands = Inbox(self.limits.waiting_per_host, self.limits.waiting_total)
        self.listeners = Listeners(self.limits)
        self.quota = Quota(self.limits)
        self.peers: dict[str, Peer] = {}
        self.handled = 0
        self.quick = 0
        self.suppressed = 0  # error replies not sent: past a datagram's budget
        self._values: dict[tuple[str, str], tuple[Any, bytes]] = {}  # (obj, prop) -> (song, reply): reads are cheap
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Landing waits on the DAW (a running Ardour answers in about a second, or times out): its own thread, so
        # the control thread keeps answering. The last landings are kept for the app's DAW link panel.
        self._landing: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._land_thread: threading.Thread | None = None
        self.landings: deque[dict[str, Any]] = deque(maxlen=10)
        # refusals of commands that had nowhere to be answered (MIDI, the app): the DAW link panel and the log say them
        self.refusals: deque[dict[str, Any]] = deque(maxlen=10)
        self.daw_syncs: deque[dict[str, Any]] = deque(maxlen=10)  # pulls and pushes (daw_sync), for the panel
        self._unsubscribe = session.subscribe(lambda ev: replies.on_session(self, ev))
        self._unlander = session.set_lander(self.lander)

    @property
    def project(self) -> Any:
        return self.session.project

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self) -> Bridge:
        self._thread = threading.Thread(target=self._run, name="songbridge-bridge", daemon=True)
        self._thread.start()
        self._land_thread = threading.Thread(target=self._land_loop, name="songbridge-landing", daemon=True)
        self._land_thread.start()
        self.ardour_follow = follow_ardour(self.session.song, self.commands) \
            if self.session.song.daw.follow_transport else None
        from daw_bridge.midi.connections import keep  # the project's MIDI connections, made again

        self.midi_keeper = keep(self.session.folder, self.midi_ports)
        return self

    def run_later(self, work: Callable[[], None]) -> None:
        """Run slow work for a command (a landing, a pull from the DAW) on the landing thread, in turn."""
        self._landing.put(work)

    def _land_loop(self) -> None:
        while (work := self._landing.get()) is not None:
            try:
                work()
            except Exception:  # one failed landing must not stop the next
                log.exception("while landing")

    def close(self) -> None:
        self._unsubscribe()
        self._unlander()
        if self.midi_keeper is not None:
            self.midi_keeper.close()
        if self.ardour_follow is not None:
            self.ardour_follow.close()
        self._stop.set()
        self._landing.put(None)
        if self._thread is not None:
            self._thread.join(5.0)
        if self._land_thread is not None:
            self._land_thread.join(5.0)

    # -- intake (OSC thread, MIDI callback) ----------------------------------------------------------------------
    def put(self, env: p.Envelope) -> None:
        """Take a command: cheap reads are answered here and now, everything else waits its turn in the inbox."""
        if env.reply_to is not None or env.source == "midi":
            self._seen(env)
        cmd = env.command
        try:
            quick = QUICK.get(type(cmd))
            if quick is not None and quick(self, env, cmd):
                pass
            elif self.commands.put(env):
                return
            else:  # this host (or everyone) has too much waiting: refused here and now, not queued
                self.error(env, "busy", "too many of your commands are waiting for the bridge; slow down")
            self.quick += 1
        except SongBridgeError as exc:
            self.error(env, "bad_value", str(exc))
        except Exception as exc:  # a bug must not stop the OSC thread
            log.exception("while answering %s", env.address)
            self.error(env, "internal", f"{type(exc).__name__}: {exc}")

    def _seen(self, env: p.Envelope) -> None:
        key = f"{env.reply_to[0]}:{env.reply_to[1]}" if env.reply_to else "MIDI"
        with self._lock:
            peer = self.peers.get(key)
            if peer is None:
                if len(self.peers) >= 64:  # a flood from many ports must not grow this without bound
                    oldest = min(self.peers.values(), key=lambda x: x.when)
                    del self.peers[oldest.address]
                peer = self.peers[key] = Peer(key)
            peer.last, peer.when, peer.count = env.address or type(env.command).__name__, time.time(), peer.count + 1

    def stats(self) -> tuple[int, int, int, int, int]:
        """(received, handled, coalesced, dropped by the kernel, replies unsent) since the bridge started; unsent
        counts replies withheld from unproven addresses and errors past a datagram's budget too."""
        osc = self.osc
        return (self.commands.received + self.quick, self.handled + self.quick, self.commands.coalesced,
                getattr(osc, "overflowed", 0), getattr(osc, "unsent", 0) + getattr(osc, "suppressed", 0) + self.suppressed)

    def peers_seen(self) -> list[Peer]:
        """The peers, newest first (a copy: safe from any thread)."""
        with self._lock:
            return sorted((Peer(x.address, x.last, x.when, x.count) for x in self.peers.values()),
                          key=lambda x: -x.when)

    # -- the control thread ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            env = self.commands.get(timeout=0.05)
            if env is None:
                continue
            try:
                self.handle(env)
            except DocumentError as exc:
                code = "refused_path" if "outside the project" in str(exc) else "bad_value"
                self.error(env, code, str(exc))
            except TooLarge as exc:
                self.error(env, "too_large", f"{exc}; nothing changed")
            except SongBridgeError as exc:
                self.error(env, "bad_value", str(exc))
            except Exception as exc:  # a bug must not stop the bridge
                log.exception("while handling %s", env.address)
                self.error(env, "internal", f"{type(exc).__name__}: {exc}")
            finally:
                self.commands.settled(env)
            self.handled += 1

    # -- sending --------------------------------------------------------------------------------------------------
    def reply(self, env: p.Envelope, address: str, *args: Any) -> None:
        """Send a reply; one too large for a datagram is refused with an error naming its size (never split)."""
        if env.reply_to is None:
            return
        self.send_to(env.reply_to, address, *args, request=env.address)

    def send_to(self, to: tuple[str, int], address: str, *args: Any, request: str = "") -> None:
        self.send_raw(self._encode(address, args, request), to)

    def error(self, env: p.Envelope, code: str, text: str) -> None:
        """An error reply; one datagram (a bundle of thousands of bad messages) causes at most
        ``protocol.MAX_ERRORS_PER_DATAGRAM`` of them, the rest are counted."""
        if env.datagram is not None and not env.datagram.may_error():
            self.suppressed += 1
            return
        if env.reply_to is None:  # a MIDI trigger (or the app): no one to answer, so the log and the panel say it
            log.warning("refused %s (%s): %s", env.address, code, text)
            self.refusals.append({"when": time.time(), "address": env.address, "code": code, "text": text[:1000]})
        self.reply(env, f"{ROOT}/error", env.address, code, text[:1000])

    def reply_get(self, env: p.Envelope, obj: str, prop: str) -> None:
        """Answer a read with the value's reply, built once per song (the song is immutable): a flood of reads of
        a large property costs a send each, not a format each."""
        if env.reply_to is None:
            return
        song = self.session.song
        cached = self._values.get((obj, prop))
        if obj == "song" and cached is not None and cached[0] is song:
            data = cached[1]
        else:
            data = self._encode(f"{ROOT}/{obj}/get/{prop}", self.value(obj, prop), env.address)
            if obj == "song":
                self._values[(obj, prop)] = (song, data)
        self.send_raw(data, env.reply_to)

    def _encode(self, address: str, args: tuple[Any, ...], request: str) -> bytes:
        data = message(address, *args)
        if len(data) > MAX_REPLY:
            data = message(f"{ROOT}/error", request or address, "too_large",
                           f"the reply to {request or address} would be {len(data):,} bytes; one OSC datagram holds "
                           f"at most {MAX_REPLY:,} (shorten the lyrics or read them from the project file)")
        return data

    def push(self, key: tuple[str, str], address: str, *args: Any) -> None:
        targets = self.listeners.targets(key)
        if not targets:
            return
        data = message(address, *args)
        if len(data) > MAX_REPLY:
            log.warning("not pushing %s: %d bytes is more than a datagram holds", address, len(data))
            return
        for to in targets:
            self.send_raw(data, to)

    # -- commands -------------------------------------------------------------------------------------------------
    def handle(self, env: p.Envelope) -> None:
        """One command, by its type (``dispatch.HANDLERS``): one session call or one reply."""
        handler = HANDLERS.get(type(env.command))
        if handler is None:
            raise SongBridgeError(f"no handler for {type(env.command).__name__}")
        handler(self, env, env.command)

    def _remember_follow(self, on: bool) -> None:  # daw_sync follows Ardour again where it listens now
        remember_follow(self, on)

    def take(self, take_id: str) -> Any:
        try:
            return self.session.song.take(take_id)
        except KeyError as exc:
            raise SongBridgeError(str(exc.args[0])) from None

    def section(self, name: str) -> Any:
        return find_section(self.session.song, name)

    def value(self, obj: str, prop: str) -> tuple[Any, ...]:
        song = self.session.song
        if obj == "transport":
            t = self.session.transport
            playing = t.playing if t.follow else (self.player is not None and self.player.state == "playing")
            return transport_value(song, prop, self.bpm(), playing, t.follow, self.position_s())
        return song_value(song, prop)

    # -- where the DAW is ---------------------------------------------------------------------------------------
    def position_s(self) -> float:
        """Where the DAW is (when following its clock), else the player's play head."""
        t = self.session.transport
        if t.follow and t.beats is not None:
            return max(0.0, self.session.song.tempo.quarters_to_seconds(t.beats))
        return self.player.position_s if self.player is not None else 0.0

    def bpm(self) -> float:
        t = self.session.transport
        if t.follow and t.bpm:
            return t.bpm
        return self.session.song.tempo.bpm
