"""From a command to its handler: one table for the control thread (``HANDLERS``) and one for the reads answered on
the OSC thread (``QUICK``). Each handler is one session call or one reply; the checks and the follow-ups are the
session's."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from daw_bridge import daw_sync, job_requests, take_commands
from daw_bridge import protocol as p
from daw_bridge.adapters.ardour_follow import follow_ardour
from daw_bridge.osc.replies import message
from daw_bridge.song_props import LABELS, song_value
from engine.errors import SongBridgeError

if TYPE_CHECKING:
    from daw_bridge.server import Bridge

ROOT = "/songbridge"
MAX_REPLY = 60_000  # bytes: an OSC reply must fit one UDP datagram (65,507) with room for the header
Handler = Callable[["Bridge", p.Envelope, Any], None]


def ping(bridge: Bridge, env: p.Envelope, cmd: p.Ping) -> None:
    bridge.reply(env, f"{ROOT}/pong", bridge.version)


def stats(bridge: Bridge, env: p.Envelope, cmd: p.BridgeStats) -> None:
    bridge.reply(env, f"{ROOT}/bridge/get/stats", *bridge.stats())


def bad_request(bridge: Bridge, env: p.Envelope, cmd: p.BadRequest) -> None:
    bridge.error(env, cmd.code, cmd.message)


def get(bridge: Bridge, env: p.Envelope, cmd: p.GetProperty) -> None:
    bridge.reply_get(env, cmd.obj, cmd.prop)


def job_status(bridge: Bridge, env: p.Envelope, cmd: p.JobStatus) -> None:
    infos = [i for i in bridge.session.job_states() if cmd.job_id in (None, i.id)]
    if cmd.job_id and not infos:
        raise SongBridgeError(f"no job {cmd.job_id!r}")
    for i in infos:
        frac = i.step / i.total if i.total else (1.0 if i.state == "finished" else 0.0)
        bridge.reply(env, f"{ROOT}/job/get/status", i.id, i.state, float(frac))


def listen(bridge: Bridge, env: p.Envelope, cmd: p.Listen) -> None:
    """Subscribe (or renew, or end) the sender: only an address that has proven it receives there, at most so
    many per host and in all, each until it expires (renewed by asking again)."""
    if env.reply_to is None:
        return
    key = (cmd.obj, cmd.prop)
    if not cmd.on:
        bridge.listeners.remove(key, env.reply_to)
        return
    if env.proven_until <= time.monotonic():
        bridge.error(env, "not_allowed", "subscribe from an address that has proven itself: send /songbridge/hello "
                                         "first (docs/osc.md)")
        return
    why = bridge.listeners.add(key, env.reply_to, env.proven_until)
    if why is not None:
        bridge.error(env, "busy", why)
    elif cmd.obj in ("song", "transport"):
        bridge.reply_get(env, cmd.obj, cmd.prop)


def set_song(bridge: Bridge, env: p.Envelope, cmd: p.SetProperty) -> None:
    """Check (the answer's size too), apply as one undoable edit, and answer once it is on disk."""
    from daw_bridge.song_props import song_with

    new = song_with(bridge.session.song, cmd.prop, cmd.value)
    answer = message(f"{ROOT}/song/get/{cmd.prop}", *song_value(new, cmd.prop))
    if len(answer) > MAX_REPLY:
        bridge.error(env, "too_large", f"{cmd.prop} would be {len(answer):,} bytes as /songbridge/song/get/"
                                       f"{cmd.prop}, more than one datagram holds ({MAX_REPLY:,}); nothing changed")
        return

    def saved(ok: bool, error: str) -> None:
        if ok:  # the value this set made, which is on disk now (a later set may not be yet)
            if env.reply_to is not None:
                bridge.send_raw(answer, env.reply_to)
        else:
            bridge.error(env, "save_failed", f"{cmd.prop} was set but could not be saved: {error}")

    bridge.session.edit(new, f"Set {LABELS.get(cmd.prop, cmd.prop)} (from DAW)", "daw", on_saved=saved)


def accept(bridge: Bridge, env: p.Envelope, cmd: p.Accept) -> None:
    session = bridge.session
    take_id = session.take_to_accept(cmd.take or None)
    session.accept(take_id, cmd.section or "", "daw", on_saved=lambda ok, err: bridge.reply(
        env, f"{ROOT}/take/accepted", take_id, cmd.section or "") if ok else bridge.error(env, "save_failed", err))


def land(bridge: Bridge, env: p.Envelope, cmd: p.Land) -> None:
    bridge.session.land(cmd.take, cmd.section, cmd.folder, origin="app" if env.source == "gui" else "daw",
                        requester=job_requests.requester(env, 1))


def audition(bridge: Bridge, env: p.Envelope, cmd: p.Audition) -> None:
    if bridge.player is None:
        raise SongBridgeError("no audio output: the bridge runs without a player (start it with --audio)")
    pl = bridge.player
    if cmd.take and cmd.action in ("play", "ab"):
        take = bridge.take(cmd.take)
        pl.load(bridge.session.project.audio_dir(take.id), slot="B" if cmd.action == "ab" else "A",
                stems=list(take.stems))
    {"play": pl.play, "pause": pl.pause, "stop": pl.stop, "ab": pl.ab}.get(cmd.action, lambda: None)()
    if cmd.action == "seek":
        pl.seek(cmd.seconds or 0.0)
    elif cmd.action == "loop":
        pl.set_loop(cmd.seconds, cmd.end_seconds)
    elif cmd.action == "loop_off":
        pl.set_loop(None)


def follow(bridge: Bridge, env: p.Envelope, cmd: p.FollowTransport) -> None:
    bridge.session.set_transport(follow=cmd.on)
    remember_follow(bridge, cmd.on)
    bridge.reply(env, f"{ROOT}/transport/get/follow", int(cmd.on))


def remember_follow(bridge: Bridge, on: bool) -> None:
    """The follow setting is the project's (song.json daw.follow_transport, an undoable edit): the next start
    follows again. With an Ardour link, Ardour's own OSC feedback is followed while it is on."""
    session = bridge.session
    song = session.song
    if song.daw.follow_transport != on:
        session.edit(song.replace(daw=replace(song.daw, follow_transport=on)),
                     "Follow the DAW's transport" if on else "Stop following the DAW", "daw")
    if on and bridge.ardour_follow is None:
        bridge.ardour_follow = follow_ardour(session.song, bridge.commands)
    elif not on and bridge.ardour_follow is not None:
        bridge.ardour_follow.close()
        bridge.ardour_follow = None


def transport(bridge: Bridge, env: p.Envelope, cmd: p.TransportUpdate) -> None:
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
        changes["beats"] = bridge.session.song.tempo.seconds_to_quarters(cmd.position_samples / 44100)
    if changes:
        changes["source"] = cmd.source or "MIDI clock"
    bridge.session.set_transport(**changes)
    if "bpm" in changes and changes["bpm"] is not None:
        bridge.push(("transport", "tempo"), f"{ROOT}/transport/get/tempo", float(changes["bpm"]))
    if "playing" in changes:
        bridge.push(("transport", "is_playing"), f"{ROOT}/transport/get/is_playing", int(changes["playing"]))
    if "beats" in changes:
        bridge.push(("transport", "position"), f"{ROOT}/transport/get/position",
                    *bridge.value("transport", "position"))


HANDLERS: dict[type, Handler] = {
    p.BadRequest: bad_request, p.Ping: ping, p.BridgeStats: stats, p.GetProperty: get, p.JobStatus: job_status,
    p.SetProperty: set_song, p.Listen: listen,
    p.Generate: job_requests.submit, p.Edit: job_requests.submit, p.GenerateHere: job_requests.generate_here,
    p.Cancel: job_requests.cancel, p.Accept: accept,
    p.Split: take_commands.analyse, p.FindGrid: take_commands.analyse, p.MakeLoop: take_commands.make_loop,
    p.Render: take_commands.render, p.AddPart: take_commands.add_part,
    p.Land: land, p.Audition: audition, p.FollowTransport: follow, p.TransportUpdate: transport,
    p.DawSync: daw_sync.handle, p.DawOsc: daw_sync.handle,
}


def _quick_get(bridge: Bridge, env: p.Envelope, cmd: p.GetProperty) -> bool:
    if cmd.obj == "song" and bridge.commands.unsettled(cmd.prop):
        return False  # a set of it is waiting: answered after it, in turn
    get(bridge, env, cmd)
    return True


def _answered(handler: Handler) -> Callable[[Bridge, p.Envelope, Any], bool]:
    def run(bridge: Bridge, env: p.Envelope, cmd: Any) -> bool:
        handler(bridge, env, cmd)
        return True
    return run


#: cheap reads answered on the OSC thread at once; False: not here after all, queue it
QUICK: dict[type, Callable[[Bridge, p.Envelope, Any], bool]] = {
    p.Ping: _answered(ping), p.BridgeStats: _answered(stats), p.GetProperty: _quick_get,
    p.JobStatus: _answered(job_status),
}
