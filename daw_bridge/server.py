"""The DAW bridge: commands from OSC and MIDI -> calls on the session core; the session's changes -> replies and
pushes to the DAW. The bridge keeps no copy of the song: the session owns it, and the app (when it hosts the
bridge) sees every change at once.

Threads: the OSC thread calls :meth:`Bridge.put` for every command; cheap reads (ping, get, job status) are answered
there from the session's immutable song, the rest goes to the inbox, which the control thread empties. Sets are
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
from typing import Any

from daw_bridge import daw_sync, job_requests, take_commands
from daw_bridge import protocol as p
from daw_bridge.adapters.ardour_follow import follow_ardour
from daw_bridge.inbox import Inbox
from daw_bridge.landing import deliver, find_section, render_job
from daw_bridge.limits import Limits, Listeners, Quota
from daw_bridge.osc.replies import message
from daw_bridge.song_props import LABELS, TooLarge, song_value, song_with, transport_value
from engine.errors import DocumentError, SongBridgeError

log = logging.getLogger("songbridge.bridge")
ROOT = "/songbridge"
MAX_REPLY = 60_000  # bytes: an OSC reply must fit one UDP datagram (65,507) with room for the header
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
    def __init__(self, session: Any, send: Callable[[bytes, tuple[str, int]], None], player: Any = None,
                 auto_land: bool = False, land_folder: Path | None = None, version: str = "0",
                 limits: Limits | None = None, admin_token: str | None = None):
        self.session = session
        self.send_raw = send
        self.player = player
        self.auto_land = auto_land
        self.land_folder = land_folder
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
        self._lander: threading.Thread | None = None
        self.landings: deque[dict[str, Any]] = deque(maxlen=10)
        # refusals of commands that had nowhere to be answered (MIDI, the app): the DAW link panel and the log say them
        self.refusals: deque[dict[str, Any]] = deque(maxlen=10)
        self.daw_syncs: deque[dict[str, Any]] = deque(maxlen=10)  # pulls and pushes (daw_sync), for the panel
        self._unsubscribe = session.subscribe(self._on_session)

    @property
    def project(self) -> Any:
        return self.session.project

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self) -> Bridge:
        self._thread = threading.Thread(target=self._run, name="songbridge-bridge", daemon=True)
        self._thread.start()
        self._lander = threading.Thread(target=self._land_loop, name="songbridge-landing", daemon=True)
        self._lander.start()
        self.ardour_follow = follow_ardour(self.session.song, self.commands) \
            if self.session.song.daw.follow_transport else None
        from daw_bridge.midi.connections import keep  # noqa: PLC0415 - the project's MIDI connections, made again

        self.midi_keeper = keep(self.session.folder, getattr(self, "midi_ports", None))
        return self

    def run_later(self, work: Callable[[], None]) -> None:
        """Run slow work for a command (a landing, a pull from the DAW) on the landing thread, in turn."""
        self._landing.put(work)

    def _land_loop(self) -> None:
        while (work := self._landing.get()) is not None:
            try:
                work()
            except Exception:  # noqa: BLE001 - one failed landing must not stop the next
                log.exception("while landing")

    def close(self) -> None:
        self._unsubscribe()
        if getattr(self, "midi_keeper", None) is not None:
            self.midi_keeper.close()
        if getattr(self, "ardour_follow", None) is not None:
            self.ardour_follow.close()
        self._stop.set()
        self._landing.put(None)
        if self._thread is not None:
            self._thread.join(5.0)
        if self._lander is not None:
            self._lander.join(5.0)

    # -- intake (OSC thread, MIDI callback) ----------------------------------------------------------------------
    def put(self, env: p.Envelope) -> None:
        """Take a command: cheap reads are answered here and now, everything else waits its turn in the inbox."""
        if env.reply_to is not None or env.source == "midi":
            self._seen(env)
        cmd = env.command
        try:
            if isinstance(cmd, p.Ping):
                self.reply(env, f"{ROOT}/pong", self.version)
            elif isinstance(cmd, p.BridgeStats):
                self.reply(env, f"{ROOT}/bridge/get/stats", *self.stats())
            elif isinstance(cmd, p.GetProperty) and not (cmd.obj == "song" and self.commands.unsettled(cmd.prop)):
                self.reply_get(env, cmd.obj, cmd.prop)
            elif isinstance(cmd, p.JobStatus):
                self.job_status(env, cmd)
            elif self.commands.put(env):
                return
            else:  # this host (or everyone) has too much waiting: refused here and now, not queued
                self.error(env, "busy", "too many of your commands are waiting for the bridge; slow down")
            self.quick += 1
        except SongBridgeError as exc:
            self.error(env, "bad_value", str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the OSC thread
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
        osc = getattr(self, "osc", None)
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
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the bridge
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
        cmd = env.command
        if isinstance(cmd, p.BadRequest):
            self.error(env, cmd.code, cmd.message)
        elif isinstance(cmd, p.Ping):
            self.reply(env, f"{ROOT}/pong", self.version)
        elif isinstance(cmd, p.GetProperty):
            self.reply_get(env, cmd.obj, cmd.prop)
        elif isinstance(cmd, p.JobStatus):
            self.job_status(env, cmd)
        elif isinstance(cmd, p.SetProperty):
            self.set_song(env, cmd)
        elif isinstance(cmd, p.Listen):
            self.listen(env, cmd)
        elif isinstance(cmd, p.Generate | p.Edit):
            job_requests.submit(self, env, cmd)
        elif isinstance(cmd, p.GenerateHere):
            job_requests.generate_here(self, env, cmd)
        elif isinstance(cmd, p.Cancel):
            job_requests.cancel(self, env, cmd)
        elif isinstance(cmd, p.Accept):
            self.accept(env, cmd)
        elif isinstance(cmd, p.Split | p.FindGrid):
            take_commands.analyse(self, env, cmd)
        elif isinstance(cmd, p.MakeLoop):
            take_commands.make_loop(self, env, cmd)
        elif isinstance(cmd, p.Land):
            try:
                job, purpose = render_job(self.session, cmd.take, cmd.section, cmd.folder, self.land_folder)
            except SongBridgeError as exc:
                self._record_landing(cmd.take or "", cmd.section or "song", self.session.song.daw.adapter, False,
                                     str(exc))
                raise
            self.session.flush(5.0)  # the render reads song.json: what was accepted just before must be on disk
            self.session.submit(job, {**purpose, "reply_to": env.reply_to},
                                "app" if env.source == "gui" else "daw")
        elif isinstance(cmd, p.Audition):
            self.audition(env, cmd)
        elif isinstance(cmd, p.FollowTransport):
            self.session.set_transport(follow=cmd.on)
            self._remember_follow(cmd.on)
            self.reply(env, f"{ROOT}/transport/get/follow", int(cmd.on))
        elif isinstance(cmd, p.TransportUpdate):
            self.on_transport(cmd)
        elif isinstance(cmd, p.DawSync | p.DawOsc):
            daw_sync.handle(self, env, cmd)

    def listen(self, env: p.Envelope, cmd: p.Listen) -> None:
        """Subscribe (or renew, or end) the sender: only an address that has proven it receives there, at most so
        many per host and in all, each until it expires (renewed by asking again)."""
        if env.reply_to is None:
            return
        key = (cmd.obj, cmd.prop)
        if not cmd.on:
            self.listeners.remove(key, env.reply_to)
            return
        if env.proven_until <= time.monotonic():
            self.error(env, "not_allowed", "subscribe from an address that has proven itself: send /songbridge/hello "
                                           "first (docs/osc.md)")
            return
        why = self.listeners.add(key, env.reply_to, env.proven_until)
        if why is not None:
            self.error(env, "busy", why)
        elif cmd.obj in ("song", "transport"):
            self.reply_get(env, cmd.obj, cmd.prop)

    def job_status(self, env: p.Envelope, cmd: p.JobStatus) -> None:
        infos = [i for i in self.session.engine.jobs() if cmd.job_id in (None, i.id)]
        if cmd.job_id and not infos:
            raise SongBridgeError(f"no job {cmd.job_id!r}")
        for i in infos:
            frac = i.step / i.total if i.total else (1.0 if i.state == "finished" else 0.0)
            self.reply(env, f"{ROOT}/job/get/status", i.id, i.state, float(frac))

    # -- the song -------------------------------------------------------------------------------------------------
    def value(self, obj: str, prop: str) -> tuple[Any, ...]:
        song = self.session.song
        if obj == "transport":
            t = self.session.transport
            playing = t.playing if t.follow else (self.player is not None and self.player.state == "playing")
            return transport_value(song, prop, self.bpm(), playing, t.follow, self.position_s())
        return song_value(song, prop)

    def set_song(self, env: p.Envelope, cmd: p.SetProperty) -> None:
        """Check (the answer's size too), apply as one undoable edit, and answer once it is on disk."""
        new = song_with(self.session.song, cmd.prop, cmd.value)
        answer = message(f"{ROOT}/song/get/{cmd.prop}", *song_value(new, cmd.prop))
        if len(answer) > MAX_REPLY:
            self.error(env, "too_large", f"{cmd.prop} would be {len(answer):,} bytes as /songbridge/song/get/"
                                         f"{cmd.prop}, more than one datagram holds ({MAX_REPLY:,}); nothing changed")
            return

        def saved(ok: bool, error: str) -> None:
            if ok:  # the value this set made, which is on disk now (a later set may not be yet)
                if env.reply_to is not None:
                    self.send_raw(answer, env.reply_to)
            else:
                self.error(env, "save_failed", f"{cmd.prop} was set but could not be saved: {error}")

        self.session.edit(new, f"Set {LABELS.get(cmd.prop, cmd.prop)} (from DAW)", "daw", on_saved=saved)

    def take(self, take_id: str) -> Any:
        try:
            return self.session.song.take(take_id)
        except KeyError as exc:
            raise SongBridgeError(str(exc.args[0])) from None

    def section(self, name: str) -> Any:
        return find_section(self.session.song, name)

    def accept(self, env: p.Envelope, cmd: p.Accept) -> None:
        song = self.session.song
        take_id = cmd.take
        if not take_id:  # "the newest take"
            if not song.takes:
                raise SongBridgeError("no take to accept yet")
            take_id = song.takes[-1].id
        section = self.section(cmd.section).id if cmd.section else ""
        self.take(take_id)
        self.session.accept(take_id, section, "daw", on_saved=lambda ok, err: self.reply(
            env, f"{ROOT}/take/accepted", take_id, cmd.section or "") if ok else self.error(env, "save_failed", err))

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

    # -- what the session says ----------------------------------------------------------------------------------
    def _on_session(self, ev: Any) -> None:
        """Called on whichever thread changed the session: only builds messages and sends (non-blocking)."""
        from engine.session import JobEnded, JobProgress, JobQueued, SongChanged  # noqa: PLC0415

        if isinstance(ev, SongChanged):
            for prop in sorted(ev.changed() & {"title", "tempo", "time_signature", "key", "style", "sections",
                                               "lyrics", "takes", "length"}):
                if self.listeners.targets(("song", prop)):
                    self.push(("song", prop), f"{ROOT}/song/get/{prop}", *song_value(ev.after, prop))
            return
        purpose = getattr(ev, "purpose", None) or self.session.jobs.get(ev.job_id, {})
        if purpose.get("kind") == "land":
            if isinstance(ev, JobEnded):
                self._landing.put(lambda: self._landed(ev, purpose))
            return
        if isinstance(ev, JobEnded) and purpose.get("client") is not None:
            self._count_written(purpose["client"], ev.takes or ())
        targets = set(self.listeners.targets(("job", "events")))
        if purpose.get("reply_to") is not None:
            targets.add(purpose["reply_to"])
        if isinstance(ev, JobQueued):
            if ev.origin == "daw":
                return  # the requester got job/queued as the reply
            data = message(f"{ROOT}/job/queued", ev.job_id, ev.label)
            targets = set(self.listeners.targets(("job", "events")))
        elif isinstance(ev, JobProgress):
            data = message(f"{ROOT}/job/progress", ev.job_id, int(ev.step), int(ev.total),
                           float(ev.eta_s if ev.eta_s is not None else -1.0))
        elif isinstance(ev, JobEnded) and ev.state == "finished":
            if purpose.get("kind") == "lock" and ev.takes:  # heard locked, as the DAW asked (undoable in the app)
                t = ev.takes[0].id
                if t not in self.session.song.locked:
                    song = self.session.song
                    self.session.edit(song.replace(locked=(*song.locked, t)), f"Lock {t} to the grid (from DAW)",
                                      "daw")
            if purpose.get("daw_bpm") and ev.takes:  # made at the song's tempo for a DAW at another: lock to it
                try:
                    job_requests.lock_to_daw(self, ev.takes[0], purpose)
                except SongBridgeError as exc:
                    log.warning("could not lock %s to the DAW's tempo: %s", ev.takes[0].id, exc)
            args: list[Any] = [ev.job_id]
            for take in ev.takes or ():
                args += [take.id, str(self.session.project.take_dir(take.id) / "mix.wav")]
            data = message(f"{ROOT}/job/done", *(args if ev.takes else [ev.job_id, "", ""]))
            if purpose.get("loop") and ev.takes:  # a loop from the DAW lands at its bar as soon as it is made
                for take in ev.takes:
                    self.commands.put(p.Envelope(p.Land(take.id), f"{ROOT}/stems/land", purpose.get("reply_to")))
            elif self.auto_land and ev.takes and purpose.get("origin") == "daw" and not purpose.get("daw_bpm"):
                # (a take made for a DAW at another tempo lands when its lock to that tempo is made)
                self.commands.put(p.Envelope(p.Land(ev.takes[0].id, purpose.get("section")), f"{ROOT}/stems/land",
                                             purpose.get("reply_to")))
        elif isinstance(ev, JobEnded) and ev.state == "failed":
            data = message(f"{ROOT}/job/failed", ev.job_id, ev.error[:1000])
        elif isinstance(ev, JobEnded):
            data = message(f"{ROOT}/job/cancelled", ev.job_id)
        else:
            return
        for to in targets:
            self.send_raw(data, to)

    def _count_written(self, client: str, takes: Any) -> None:
        """What a host's job wrote (its takes' folders), for the bytes-a-minute limit."""
        total = 0
        for take in takes:
            for folder, _dirs, files in os.walk(self.session.project.take_dir(take.id)):
                for name in files:
                    try:
                        total += os.lstat(os.path.join(folder, name)).st_size
                    except OSError:
                        continue
        self.quota.wrote(client, total, len(takes))

    def _record_landing(self, take: str, section: str, adapter: str, ok: bool, detail: str) -> None:
        self.landings.append({"when": time.time(), "take": take, "section": section, "adapter": adapter, "ok": ok,
                              "detail": detail})

    def _landed(self, ev: Any, purpose: dict[str, Any]) -> None:
        to = purpose.get("reply_to")
        if ev.state != "finished":
            result = ("generic", 0, ev.error or ev.state)
        else:
            try:
                adapter, detail = deliver(self.session, purpose, ev.render or {})
                result = (adapter, 1, detail)
            except (SongBridgeError, OSError) as exc:
                result = (self.session.song.daw.adapter, 0, str(exc))
        self._record_landing(purpose["take"], purpose.get("section", ""), result[0], bool(result[1]), result[2])
        if to is not None:
            self.send_to(to, f"{ROOT}/stems/landed", purpose["take"], result[0], result[1], result[2][:1000])

    # -- audition and transport ----------------------------------------------------------------------------------
    def audition(self, env: p.Envelope, cmd: p.Audition) -> None:
        if self.player is None:
            raise SongBridgeError("no audio output: the bridge runs without a player (start it with --audio)")
        pl = self.player
        if cmd.take and cmd.action in ("play", "ab"):
            take = self.take(cmd.take)
            pl.load(self.session.project.audio_dir(take.id), slot="B" if cmd.action == "ab" else "A",
                    stems=list(take.stems))
        {"play": pl.play, "pause": pl.pause, "stop": pl.stop, "ab": pl.ab}.get(cmd.action, lambda: None)()
        if cmd.action == "seek":
            pl.seek(cmd.seconds or 0.0)
        elif cmd.action == "loop":
            pl.set_loop(cmd.seconds, cmd.end_seconds)
        elif cmd.action == "loop_off":
            pl.set_loop(None)

    def _remember_follow(self, on: bool) -> None:
        """The follow setting is the project's (song.json daw.follow_transport, an undoable edit): the next start
        follows again. With an Ardour link, Ardour's own OSC feedback is followed while it is on."""
        from dataclasses import replace  # noqa: PLC0415

        song = self.session.song
        if song.daw.follow_transport != on:
            self.session.edit(song.replace(daw=replace(song.daw, follow_transport=on)),
                              "Follow the DAW's transport" if on else "Stop following the DAW", "daw")
        if on and getattr(self, "ardour_follow", None) is None:
            self.ardour_follow = follow_ardour(self.session.song, self.commands)
        elif not on and getattr(self, "ardour_follow", None) is not None:
            self.ardour_follow.close()
            self.ardour_follow = None

    def on_transport(self, cmd: p.TransportUpdate) -> None:
        changes: dict[str, Any] = {}
        if cmd.tempo_known is False:
            changes["bpm"] = None
        if cmd.bpm is not None:
            changes["bpm"] = cmd.bpm
        if cmd.playing is not None:
            changes["playing"] = cmd.playing
        if cmd.position_beats is not None:
            changes["beats"] = cmd.position_beats
        elif cmd.position_samples is not None:
            changes["beats"] = self.session.song.tempo.seconds_to_quarters(cmd.position_samples / 44100)
        if changes:
            changes["source"] = cmd.source or "MIDI clock"
        self.session.set_transport(**changes)
        if "bpm" in changes and changes["bpm"] is not None:
            self.push(("transport", "tempo"), f"{ROOT}/transport/get/tempo", float(changes["bpm"]))
        if "playing" in changes:
            self.push(("transport", "is_playing"), f"{ROOT}/transport/get/is_playing", int(changes["playing"]))
        if "beats" in changes:
            self.push(("transport", "position"), f"{ROOT}/transport/get/position", *self.value("transport", "position"))
