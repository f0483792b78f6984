"""Generate and edit requests from the DAW, and cancelling: each is checked whole (ranges, lyrics, the host's
limits) before anything changes, then queued on the session and answered ``/songbridge/job/queued``.

A job belongs to the *host* that asked for it (``purpose["client"]``): the per-host limits count it, and only that
host may cancel it (``*``: all of its own), unless the request carries the bridge's admin token. MIDI, a port on this
machine, may cancel any job (the controller's panic button).
"""

from __future__ import annotations

import hmac
import math
from dataclasses import replace
from typing import Any

from daw_bridge import protocol as p
from engine.errors import SongBridgeError

ROOT = "/songbridge"
TEMPO_TOLERANCE = 0.5  # bpm: a DAW tempo this close to the song's is the song's


def host(env: p.Envelope) -> str:
    """Who a request counts against: the sender's host (any port), else where it came from (``midi``, ``gui``)."""
    return env.reply_to[0] if env.reply_to else env.source


def admission(bridge: Any, env: p.Envelope, takes: int) -> str | None:
    """Why ``env``'s host may not queue a job of ``takes`` takes now (its limits, and everyone's), or None."""
    session = bridge.session
    in_flight = []
    for job_id in session.in_flight():
        purpose = session.jobs.get(job_id)
        if purpose and purpose.get("client") is not None:
            in_flight.append((purpose["client"], int(purpose.get("takes", 1))))
    return bridge.quota.refusal(host(env), takes, in_flight)


def refuse_busy(bridge: Any, env: p.Envelope, why: str) -> None:
    bridge.error(env, "busy", f"{why}; wait for one to finish or cancel some (/songbridge/job/cancel s *)")


def purpose_of(env: p.Envelope, takes: int) -> dict[str, Any]:
    """What every job from the DAW carries: where to answer, whose it is, how many takes it makes."""
    return {"reply_to": env.reply_to, "client": host(env), "takes": takes}


def cancel(bridge: Any, env: p.Envelope, cmd: p.Cancel) -> None:
    session = bridge.session
    admin = env.source == "midi" or (cmd.token is not None
                                     and hmac.compare_digest(cmd.token.encode(), bridge.admin_token.encode()))
    if cmd.token is not None and not admin:
        bridge.error(env, "not_allowed", "wrong admin token")
        return
    mine = host(env)
    if cmd.job_id == "*":
        for job_id in session.in_flight():
            purpose = session.jobs.get(job_id) or {}
            if admin or purpose.get("client") == mine:
                session.cancel(job_id)
        return
    purpose = session.jobs.get(cmd.job_id)
    if purpose is None:
        raise SongBridgeError(f"no running or queued job {cmd.job_id!r}")
    if not admin and purpose.get("client") != mine:
        bridge.error(env, "not_allowed", f"job {cmd.job_id} is not yours (it was asked for from another host or the "
                                         "app); only its host, or a request with the admin token, may cancel it")
        return
    if not session.cancel(cmd.job_id):
        raise SongBridgeError(f"no running or queued job {cmd.job_id!r}")


def daw_tempo(bridge: Any) -> float | None:
    """The DAW's tempo when following a DAW that plays at another tempo than the song (else None).

    A section or bars regenerated then is generated at the *song's* tempo and locked to the DAW's when it is made
    (the session's lock follow-up), not the song retempoed first: the regeneration edits a base take that was made at the song's
    tempo, and its new bars must splice into that take's audio on the song's beats; retempoing the song would move
    every section, lyric line and take of the project for one request. The lock (``engine.grid.takes.lock_take``
    at the DAW's bpm) maps every bar of the new take onto the DAW's bar lines, so N bars come back exactly N bars at
    the DAW's tempo (a take of F samples is locked to F * song bpm / DAW bpm samples)."""
    t = bridge.session.transport
    song_bpm = bridge.session.song.tempo.bpm
    if t.follow and t.bpm and abs(t.bpm - song_bpm) > TEMPO_TOLERANCE:
        return float(t.bpm)
    return None


def follow_ups(bridge: Any, bpm: float | None) -> tuple[Any, ...]:
    """What a job asked for from the DAW does when it is made, as the session's follow-ups: locked to the DAW's tempo
    when it plays at another (``daw_tempo``), then landed when the bridge lands everything (``serve --auto-land``)."""
    from engine.session import followups

    return ((followups.lock(bpm),) if bpm is not None else ()) + ((followups.land(),) if bridge.auto_land else ())


def generate_here(bridge: Any, env: p.Envelope, cmd: p.GenerateHere) -> None:
    t = bridge.session.transport
    if t.follow and t.beats is None:
        raise SongBridgeError("the DAW's position is not known yet: start its transport (or send a Song "
                              "Position Pointer) before generating at the play head")
    start = math.floor(bridge.session.song.tempo.seconds_to_bars(bridge.position_s()))
    submit(bridge, env, p.Generate(bars=(float(start), float(start + cmd.bars)), takes=cmd.takes))


def submit(bridge: Any, env: p.Envelope, cmd: p.Generate | p.Edit) -> None:
    """A region (section, bars, seconds, lines) is one call of the session's regenerate, which checks it whole before
    anything changes; the whole song is queued here (its style set first)."""
    from engine.service import PRIORITY_SECTION
    from engine.session import Regenerate

    session = bridge.session
    takes = cmd.takes
    why = admission(bridge, env, takes)
    if why is not None:
        refuse_busy(bridge, env, why)
        return
    style = _style(session.song, cmd) if isinstance(cmd, p.Generate) else None
    if isinstance(cmd, p.Edit):
        req = Regenerate(sections=cmd.sections, bars=cmd.bars, seconds=cmd.ranges, lines=cmd.line_ids,
                         take=cmd.take or None, lyrics=cmd.new_lyrics, takes=takes, seed=cmd.seed, backend=cmd.backend)
    elif cmd.section or cmd.bars or cmd.seconds:
        req = Regenerate(sections=(cmd.section,) if cmd.section else (), bars=(cmd.bars,) if cmd.bars else (),
                         seconds=(cmd.seconds,) if cmd.seconds else (), takes=takes, seed=cmd.seed,
                         backend=cmd.backend, style=style)
    else:
        req = None
    if req is not None:
        bpm = daw_tempo(bridge)  # generated at the song's tempo, then locked to the DAW's
        job_id = session.regenerate(req, origin="daw", priority=PRIORITY_SECTION, purpose=purpose_of(env, takes),
                                    follow_ups=follow_ups(bridge, bpm))
        label = session.jobs.get(job_id, {}).get("label", "")
    else:
        assert isinstance(cmd, p.Generate)  # an Edit always names a region (Regenerate refuses one without)
        job_id, label = _whole_song(session, env, cmd, style, follow_ups(bridge, None)), "song"
        label = session.jobs.get(job_id, {}).get("label", label)
    bridge.reply(env, f"{ROOT}/job/queued", job_id, label)


def _style(song: Any, cmd: p.Generate) -> Any:
    """The song's style with what the request sets (words, a saved preset), or None when it sets nothing."""
    style = song.style
    if cmd.style:
        style = replace(style, prompt=cmd.style)
    if cmd.style_preset is not None:
        from daw_bridge.song_props import preset_name

        style = replace(style, preset=preset_name(cmd.style_preset))
    return style if style != song.style else None


def _whole_song(session: Any, env: p.Envelope, cmd: p.Generate, style: Any, ups: tuple[Any, ...]) -> str:
    if cmd.backend:
        from engine.backends import registry

        if cmd.backend not in registry.names():
            raise SongBridgeError(f"no backend {cmd.backend!r}; backends: {', '.join(registry.names())}")
    song = session.song
    backend = cmd.backend or (song.takes[-1].backend if song.takes else "guide")
    if style is not None:
        session.edit(song.replace(style=style), "Set style (from DAW)", "daw")
    return session.generate(backend, cmd.takes, cmd.seed, label="song", origin="daw",
                            purpose={**purpose_of(env, cmd.takes), "section": None}, follow_ups=ups)
