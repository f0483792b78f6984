"""What the session says, as the DAW hears it: song changes pushed to subscribers, job events answered to whoever
asked (``/songbridge/job/queued``, ``progress``, ``done``, ``failed``, ``cancelled``). No decisions here: what
follows a job (a lock, a landing) is the session's (``engine/session/followups.py``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from daw_bridge.osc.replies import message
from daw_bridge.song_props import song_value
from engine.session import FollowUpFailed, JobEnded, JobProgress, JobQueued, SongChanged
from engine.session.purpose import UNKNOWN

if TYPE_CHECKING:
    from daw_bridge.server import Bridge

ROOT = "/songbridge"
PUSHED = {"title", "tempo", "time_signature", "key", "style", "sections", "lyrics", "takes", "length"}


def on_session(bridge: Bridge, ev: Any) -> None:
    """Called on whichever thread changed the session: only builds messages and sends (non-blocking)."""
    if isinstance(ev, SongChanged):
        for prop in sorted(ev.changed() & PUSHED):
            if bridge.listeners.targets(("song", prop)):
                bridge.push(("song", prop), f"{ROOT}/song/get/{prop}", *song_value(ev.after, prop))
        return
    if isinstance(ev, FollowUpFailed):  # the job was done (job/done went out); what was to follow it was refused
        if ev.purpose.reply_to is not None:
            bridge.send_to(ev.purpose.reply_to, f"{ROOT}/error", f"{ROOT}/job/done", "bad_value",
                           f"job {ev.job_id} made {ev.take}, but could not {ev.action} it: {ev.error}"[:1000])
        return
    if not isinstance(ev, JobQueued | JobProgress | JobEnded):
        return
    purpose = ev.purpose if not isinstance(ev, JobProgress) else bridge.session.jobs.get(ev.job_id, UNKNOWN)
    if purpose.kind == "land":
        if isinstance(ev, JobEnded):
            bridge.run_later(lambda: bridge.lander.rendered(ev, purpose))
        return
    if isinstance(ev, JobEnded) and purpose.client is not None:
        count_written(bridge, purpose.client, ev.takes or ())
    targets = set(bridge.listeners.targets(("job", "events")))
    if purpose.reply_to is not None:
        targets.add(purpose.reply_to)
    if isinstance(ev, JobQueued):
        if ev.origin == "daw":
            return  # the requester got job/queued as the reply
        data = message(f"{ROOT}/job/queued", ev.job_id, ev.label)
        targets = set(bridge.listeners.targets(("job", "events")))
    elif isinstance(ev, JobProgress):
        data = message(f"{ROOT}/job/progress", ev.job_id, int(ev.step), int(ev.total),
                       float(ev.eta_s if ev.eta_s is not None else -1.0))
    elif ev.state == "finished":
        args: list[Any] = [ev.job_id]
        for take in ev.takes or ():
            args += [take.id, str(bridge.session.project.take_dir(take.id) / "mix.wav")]
        if not ev.takes and purpose.kind == "render":  # a render: its take and the rendered mix
            files = (ev.render or {}).get("files") or {}
            args += [purpose.take or "", str(files.get("mix", (ev.render or {}).get("folder", "")))]
        data = message(f"{ROOT}/job/done", *(args if len(args) > 1 else [ev.job_id, "", ""]))
    elif ev.state == "failed":
        data = message(f"{ROOT}/job/failed", ev.job_id, ev.error[:1000])
    else:
        data = message(f"{ROOT}/job/cancelled", ev.job_id)
    for to in targets:
        bridge.send_raw(data, to)


def count_written(bridge: Bridge, client: str, takes: Any) -> None:
    """What a host's job wrote (its takes' folders), for the bytes-a-minute limit."""
    total = 0
    for take in takes:
        for folder, _dirs, files in os.walk(bridge.session.project.take_dir(take.id)):
            for name in files:
                try:
                    total += os.lstat(os.path.join(folder, name)).st_size
                except OSError:
                    continue
    bridge.quota.wrote(client, total, len(takes))
