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


def check_tempo(bridge: Any, what: str) -> None:
    """Bars from a DAW that plays at another tempo than the song would land on the wrong beats: refuse."""
    t = bridge.session.transport
    song_bpm = bridge.session.song.tempo.bpm
    if t.follow and t.bpm and abs(t.bpm - song_bpm) > TEMPO_TOLERANCE:
        raise SongBridgeError(f"{what}: the DAW plays at {t.bpm:g} bpm but the song is at {song_bpm:g} bpm; "
                              f"set the song's tempo first (/songbridge/song/set/tempo {t.bpm:g}) or stop "
                              "following the DAW (/songbridge/transport/follow 0)")


def range_of(bridge: Any, cmd: p.Generate) -> tuple[float, float, str] | None:
    """(start s, end s, label) of a section request, in the song's own tempo."""
    if cmd.section:
        s = bridge.section(cmd.section)
        return _inside(bridge, s.start_s, s.end_s, s.name)
    if cmd.bars:
        check_tempo(bridge, f"bars {cmd.bars[0]:g}-{cmd.bars[1]:g}")
        tempo = bridge.session.song.tempo
        if cmd.bars[0] < 1:
            raise SongBridgeError(f"bars {cmd.bars[0]:g}-{cmd.bars[1]:g}: bars count from 1")
        a, b = (tempo.bars_to_seconds(x) for x in cmd.bars)
        return _inside(bridge, a, b, f"bars {cmd.bars[0]:g}-{cmd.bars[1]:g}")
    if cmd.seconds:
        return _inside(bridge, cmd.seconds[0], cmd.seconds[1], f"{cmd.seconds[0]:g}-{cmd.seconds[1]:g} s")
    return None


def _inside(bridge: Any, a: float, b: float, label: str) -> tuple[float, float, str]:
    """A range to regenerate must start inside the take it edits (its end is clipped to the take)."""
    song = bridge.session.song
    base = song.base_take()
    length = base.duration_s if base else song.duration_s
    if length and a >= length:
        raise SongBridgeError(f"{label} starts at {a:.1f} s, after the end of the song ({length:.1f} s)")
    return a, (min(b, length) if length else b), label


def generate_here(bridge: Any, env: p.Envelope, cmd: p.GenerateHere) -> None:
    check_tempo(bridge, "generate at the play head")
    t = bridge.session.transport
    if t.follow and t.beats is None:
        raise SongBridgeError("the DAW's position is not known yet: start its transport (or send a Song "
                              "Position Pointer) before generating at the play head")
    start = math.floor(bridge.session.song.tempo.seconds_to_bars(bridge.position_s()))
    submit(bridge, env, p.Generate(bars=(float(start), float(start + cmd.bars)), takes=cmd.takes))


def submit(bridge: Any, env: p.Envelope, cmd: p.Generate | p.Edit) -> None:
    """Check everything, then (only then) change the lyrics or style the request carries, then queue."""
    from engine.backends.base import EditSpec  # noqa: PLC0415
    from engine.song import TimeRange  # noqa: PLC0415

    session = bridge.session
    takes = 1 if isinstance(cmd, p.Edit) else cmd.takes
    why = admission(bridge, env, takes)
    if why is not None:
        refuse_busy(bridge, env, why)
        return
    song = session.song
    edit = None
    new_song = song
    rng: tuple[float, float] | None = None
    if isinstance(cmd, p.Edit):
        source = bridge.take(cmd.take)
        ranges = list(cmd.ranges)
        timed = song.timed_lines()
        for lid in cmd.line_ids:
            idx = next((i for i, ln in enumerate(timed) if ln.id == lid), None)
            if idx is None:
                raise SongBridgeError(f"no timed lyric line {lid!r}")
            end = timed[idx + 1].start_s if idx + 1 < len(timed) else source.duration_s
            ranges.append((timed[idx].start_s, end))
        for a, b in ranges:
            if a >= source.duration_s:
                raise SongBridgeError(f"range {a:g}-{b:g} s starts after the end of {source.id} "
                                      f"({source.duration_s:.1f} s)")
        known = {ln.id for ln in song.lyrics}
        unknown = [lid for lid, _ in cmd.new_lyrics if lid not in known]
        if unknown:
            raise SongBridgeError(f"no lyric line {unknown[0]!r}")
        if any("\n" in text or len(text) > 500 for _, text in cmd.new_lyrics):
            raise SongBridgeError("new lyric text must be one line of at most 500 characters")
        edit = EditSpec(source.id, tuple(TimeRange(a, min(b, source.duration_s)) for a, b in ranges))
        if cmd.new_lyrics:
            texts = dict(cmd.new_lyrics)
            new_song = song.with_lyrics(replace(ln, text=texts.get(ln.id, ln.text)) for ln in song.lyrics)
        label, seed, style, backend = f"edit of {source.id}", cmd.seed, None, None
    else:
        r = range_of(bridge, cmd)
        label = "song"
        if r is not None:
            base = song.base_take()
            if base is None:
                raise SongBridgeError("there is no take to regenerate a section of; generate the song first")
            edit = EditSpec(base.id, (TimeRange(r[0], r[1]),))
            rng, label = (r[0], r[1]), r[2]
        seed, style, backend = cmd.seed, cmd.style, cmd.backend
    if style:
        from engine.song.model import Style  # noqa: PLC0415

        new_song = new_song.replace(style=Style(style, new_song.style.preset, new_song.style.reference_audio))
    if isinstance(cmd, p.Generate) and cmd.style_preset is not None:
        from daw_bridge.song_props import preset_name  # noqa: PLC0415

        new_song = new_song.replace(style=replace(new_song.style, preset=preset_name(cmd.style_preset)))
    backend_name = backend or (song.takes[-1].backend if song.takes else "guide")
    if backend:
        from engine.backends import registry  # noqa: PLC0415

        if backend not in registry.names():
            raise SongBridgeError(f"no backend {backend!r}; backends: {', '.join(registry.names())}")
    if new_song != song:
        session.edit(new_song, "Edit lyrics (from DAW)" if isinstance(cmd, p.Edit) else "Set style (from DAW)",
                     "daw")
    purpose = {**purpose_of(env, takes), "range": rng, "section": cmd.section if isinstance(cmd, p.Generate) else None}
    job_id = session.generate(backend_name, takes, seed, edit=edit, label=label, origin="daw", purpose=purpose)
    bridge.reply(env, f"{ROOT}/job/queued", job_id, session.jobs.get(job_id, {}).get("label", label))
