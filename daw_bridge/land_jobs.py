"""The bridge's :class:`engine.session.Lander`: what ``Session.land`` (and a ``land`` follow-up) calls to land takes
in the DAW. It queues the render jobs (``landing.render_job``; the whole song lands its loop clips too, each at its
bar on a track of its own) and, when a render ends, hands its files to the DAW (``landing.deliver``) on the bridge's
landing thread, records the landing for the DAW link panel and answers ``/songbridge/stems/landed``."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daw_bridge.landing import deliver, render_job
from engine.errors import SongBridgeError
from engine.session.purpose import Purpose

if TYPE_CHECKING:
    from daw_bridge.server import Bridge

ROOT = "/songbridge"
log = logging.getLogger("songbridge.bridge")


class DawLander:
    """Registered with the session by the bridge (``Session.set_lander``)."""

    def __init__(self, bridge: Bridge, land_folder: Path | None = None):
        self.bridge = bridge
        self.land_folder = land_folder

    def land(self, session: Any, take: str | None, section: str | None, folder: str | None,
             purpose: Purpose) -> list[str]:
        try:
            job, what = render_job(session, take, section, folder, self.land_folder)
        except SongBridgeError as exc:
            self.record(take or "", section or "song", session.song.daw.adapter, False, str(exc))
            raise
        song = session.song
        jobs = [(job, what)]
        if section is None and not any(lp.id == what.take for lp in song.loops):
            for clip in song.loops:  # the whole song: each loop clip at its bar, on a track of its own
                jobs.append(render_job(session, clip.id, None, folder, self.land_folder))
        session.flush(5.0)  # the render reads song.json: what was accepted just before must be on disk
        return [session.submit(j, replace(purpose, label=w.label, take=w.take, landing=w.landing)) for j, w in jobs]

    def record(self, take: str, section: str, adapter: str, ok: bool, detail: str) -> None:
        self.bridge.landings.append({"when": time.time(), "take": take, "section": section, "adapter": adapter,
                                     "ok": ok, "detail": detail})

    def rendered(self, ev: Any, purpose: Purpose) -> None:
        """A landing's render ended: deliver its files (on the landing thread: the DAW may take a second)."""
        to = purpose.reply_to
        session = self.bridge.session
        if ev.state != "finished":
            result = ("generic", 0, ev.error or ev.state)
        else:
            try:
                adapter, detail = deliver(session, purpose, ev.render or {})
                result = (adapter, 1, detail)
            except (SongBridgeError, OSError) as exc:
                result = (session.song.daw.adapter, 0, str(exc))
            except Exception as exc:  # a bug must still be answered (and logged), never silence
                log.exception("landing %s", purpose.take)
                result = (session.song.daw.adapter, 0, f"internal error: {type(exc).__name__}: {exc}")
        where = purpose.landing.section if purpose.landing is not None else ""
        self.record(purpose.take or "", where, result[0], bool(result[1]), result[2])
        if to is not None:
            self.bridge.send_to(to, f"{ROOT}/stems/landed", purpose.take or "", result[0], result[1], result[2][:1000])
