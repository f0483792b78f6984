"""DAW commands that make or reshape takes beyond a song: split a take into stems, find its grid (and lock it), and
make a loop that lands where the DAW is. Each is one session call, which checks it whole and queues one job; the
bridge answers ``/songbridge/job/queued`` at once. The session does the rest (a lock switched on, a loop landed:
its follow-ups) and the bridge answers its events (done, failed, landed)."""

from __future__ import annotations

import math
from typing import Any

from daw_bridge import protocol as p
from daw_bridge.job_requests import admission, job_label, refuse_busy, requester
from engine.session.loops import MAX_LOOP_TAKES

ROOT = "/songbridge"


def analyse(bridge: Any, env: p.Envelope, cmd: p.Split | p.FindGrid) -> None:
    """A split or grid job on a take (the newest unless named): one session call. A lock asked for from the DAW is
    heard as soon as it is made (the session switches it on when the job ends), at the DAW's tempo when following a
    DAW at another tempo unless one is named (the session's rule)."""
    why = admission(bridge, env, 1)  # a split or a grid rewrites one take's files
    if why is not None:
        refuse_busy(bridge, env, why)
        return
    session = bridge.session
    if isinstance(cmd, p.Split):
        job_id = session.split(cmd.take or None, cmd.two, origin="daw", requester=requester(env, 1))
    else:
        job_id = session.find_grid(cmd.take or None, cmd.lock, cmd.bpm, origin="daw", requester=requester(env, 1))
    bridge.reply(env, f"{ROOT}/job/queued", job_id, job_label(session, job_id))


def make_loop(bridge: Any, env: p.Envelope, cmd: p.MakeLoop) -> None:
    """Queue ``cmd.takes`` loops (the session checks the request whole); at the DAW's tempo and bar unless named; each
    lands at its bar on a track named after the prompt when it is made (the session's policy)."""
    from engine.session.loops import MakeLoop

    session = bridge.session
    why = admission(bridge, env, cmd.takes) if 1 <= cmd.takes <= MAX_LOOP_TAKES else None
    if why is not None:
        refuse_busy(bridge, env, why)
        return
    at_bar = cmd.at_bar if cmd.at_bar is not None else \
        float(math.floor(session.song.tempo.seconds_to_bars(bridge.position_s())))
    req = MakeLoop(cmd.prompt, cmd.bars, cmd.bpm if cmd.bpm is not None else bridge.bpm(), float(at_bar), cmd.takes)
    job_id = session.make_loop(req, origin="daw", requester=requester(env, cmd.takes))
    bridge.reply(env, f"{ROOT}/job/queued", job_id, job_label(session, job_id))


def render(bridge: Any, env: p.Envelope, cmd: p.Render) -> None:
    """Render a take through its chains into renders/: one session call (it checks the settings, the chains and
    the plugins before queueing)."""
    from engine.render import RenderSettings

    why = admission(bridge, env, 1)
    if why is not None:
        refuse_busy(bridge, env, why)
        return
    data = dict(cmd.settings)
    settings = RenderSettings(format=str(data.get("format", "wav")), bits=int(data.get("bits", 24)),
                              loudness_lufs=data.get("loudness", -14.0),
                              ceiling_dbtp=float(data.get("ceiling", -1.0)), fx=dict(data.get("fx") or {}))
    session = bridge.session
    job_id = session.render(cmd.take, settings, origin="daw", requester=requester(env, 1))
    bridge.reply(env, f"{ROOT}/job/queued", job_id, job_label(session, job_id))


def add_part(bridge: Any, env: p.Envelope, cmd: p.AddPart) -> None:
    """Add an instrument over a take (or take it out alone): one session call, checked whole before it queues."""
    why = admission(bridge, env, 1)
    if why is not None:
        refuse_busy(bridge, env, why)
        return
    session = bridge.session
    job_id = session.add_part(cmd.take, cmd.track, alone=cmd.alone, origin="daw", requester=requester(env, 1))
    bridge.reply(env, f"{ROOT}/job/queued", job_id, job_label(session, job_id))
