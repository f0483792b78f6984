"""Generate and edit requests from the DAW, and cancelling: each is checked whole (ranges, lyrics, the host's
limits) before anything changes, then queued on the session and answered ``/songbridge/job/queued``.

A job belongs to the *host* that asked for it (``Purpose.client``): the per-host limits count it, and only that
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
from engine.session.purpose import Requester

ROOT = "/songbridge"


def host(env: p.Envelope) -> str:
    """Who a request counts against: the sender's host (any port), else where it came from (``midi``, ``gui``)."""
    return env.reply_to[0] if env.reply_to else env.source


def admission(bridge: Any, env: p.Envelope, takes: int) -> str | None:
    """Why ``env``'s host may not queue a job of ``takes`` takes now (its limits, and everyone's), or None."""
    session = bridge.session
    in_flight = []
    for job_id in session.in_flight():
        purpose = session.jobs.get(job_id)
        if purpose is not None and purpose.requester is not None:
            in_flight.append((purpose.requester.client, purpose.requester.takes))
    why: str | None = bridge.quota.refusal(host(env), takes, in_flight)
    return why


def refuse_busy(bridge: Any, env: p.Envelope, why: str) -> None:
    bridge.error(env, "busy", f"{why}; wait for one to finish or cancel some (/songbridge/job/cancel s *)")


def requester(env: p.Envelope, takes: int) -> Requester:
    """Who asks, on every job from the DAW: whose it is, where to answer, how many takes it makes."""
    return Requester(host(env), env.reply_to, takes)


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
            purpose = session.jobs.get(job_id)
            if admin or (purpose is not None and purpose.client == mine):
                session.cancel(job_id)
        return
    purpose = session.jobs.get(cmd.job_id)
    if purpose is None:
        raise SongBridgeError(f"no running or queued job {cmd.job_id!r}")
    if not admin and purpose.client != mine:
        bridge.error(env, "not_allowed", f"job {cmd.job_id} is not yours (it was asked for from another host or the "
                                         "app); only its host, or a request with the admin token, may cancel it")
        return
    if not session.cancel(cmd.job_id):
        raise SongBridgeError(f"no running or queued job {cmd.job_id!r}")


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
                         take=cmd.take or None, lyrics=cmd.new_lyrics, takes=takes, seed=cmd.seed, backend=cmd.backend,
                         params=dict(cmd.params), extend_s=cmd.extend_s, extend_bars=cmd.extend_bars)
    elif cmd.section or cmd.bars or cmd.seconds:
        req = Regenerate(sections=(cmd.section,) if cmd.section else (), bars=(cmd.bars,) if cmd.bars else (),
                         seconds=(cmd.seconds,) if cmd.seconds else (), takes=takes, seed=cmd.seed,
                         backend=cmd.backend, style=style, params=dict(cmd.params))
    else:
        req = None
    if req is not None:
        job_id = session.regenerate(req, origin="daw", priority=PRIORITY_SECTION, requester=requester(env, takes))
    else:
        assert isinstance(cmd, p.Generate)  # an Edit always names a region (Regenerate refuses one without)
        job_id = session.generate(cmd.backend or None, cmd.takes, cmd.seed, params=dict(cmd.params), style=style,
                                  origin="daw", requester=requester(env, cmd.takes))
    bridge.reply(env, f"{ROOT}/job/queued", job_id, job_label(session, job_id))


def job_label(session: Any, job_id: str) -> str:
    purpose = session.jobs.get(job_id)
    return purpose.label if purpose is not None else ""


def _style(song: Any, cmd: p.Generate) -> Any:
    """The song's style with what the request sets (words, a saved preset), or None when it sets nothing."""
    style = song.style
    if cmd.style:
        style = replace(style, prompt=cmd.style)
    if cmd.style_preset is not None:
        from daw_bridge.song_props import preset_name

        style = replace(style, preset=preset_name(cmd.style_preset))
    return style if style != song.style else None
