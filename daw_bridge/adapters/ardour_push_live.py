"""Push the song's tempo map and sections into the session a running Ardour has open, through SongBridge's landing
action (a ``timeline`` request, ``ardour_live.send``): Ardour's OSC cannot set a tempo or name a range marker, its
Lua can.

- Tempo: every segment of the song's tempo map (its tempo in quarter notes per minute and its meter) at its bar, in
  Ardour's music time (1920 ticks a quarter note from the session's start). Ardour 7.3's Lua can set a tempo or
  meter point but not remove one: the session's own points elsewhere (on a quarter note, within ``quarters``) are
  set to the song's tempo and meter there, so the map plays as the song's (with redundant points).
- Sections: each becomes a range marker named ``sb:<section>`` (``ardour_markers.TAG``, as the closed route names
  them); the earlier ``sb:`` range markers go, the producer's own markers stay.
- Not one undo step in Ardour: Ardour 7.3's Lua has no undoable command for the tempo map or the locations.

The request is version 2 of the action's format: an action installed before it answers "unknown request format"
and changes nothing, and the producer is told to run ``songbridge daw setup ardour`` again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daw_bridge.adapters import ardour_live as live
from daw_bridge.adapters.ardour import ArdourError, session_facts
from daw_bridge.adapters.ardour_markers import TAG

VERSION = 2
TICKS_PER_QUARTER = 1920  # Ardour's Temporal::ticks_per_beat
SCAN_QUARTERS = 2048  # at least this far (quarter notes) the action looks for the session's own tempo points
OLD_ACTION = ("Ardour runs SongBridge's landing action from before pushing tempo and markers: quit Ardour, run "
              "`songbridge daw setup ardour` again (it updates the bound action), open the session again and push "
              "again")


class OtherSession(ArdourError):
    """The Ardour asked has another session open (``session``)."""

    def __init__(self, message: str, session: str):
        super().__init__(message)
        self.session = session


@dataclass(frozen=True)
class LivePush:
    tempos: int  # tempo points set
    markers: int  # sb: range markers written
    replaced: int  # earlier sb: range markers removed
    kept: int  # the producer's own markers, left as they were
    evened: int  # the session's own tempo and meter points elsewhere, set to the song's tempo and meter there
    seconds: float


def timeline_fields(song: Any, rate: int) -> list[str]:
    """The request's lines: one ``tempo`` per tempo segment (at its bar, in ticks), one ``section`` per section
    (samples at ``rate``). A section name's tabs and line breaks become spaces."""
    fields = ["kind\ttimeline", f"tag\t{TAG}"]
    quarters, prev = 0.0, None
    for seg in song.tempo.segments:
        if prev is not None:
            quarters += (seg.bar - prev.bar) * prev.meter.bar_quarters
        prev = seg
        fields.append(f"tempo\t{round(quarters * TICKS_PER_QUARTER)}\t{float(seg.bpm):.6f}\t"
                      f"{int(seg.meter.numerator)}\t{int(seg.meter.denominator)}")
    end_s = max([0.0, *(sec.end_s for sec in song.sections)])
    fields.append(f"quarters\t{max(SCAN_QUARTERS, math.ceil(max(song.tempo.seconds_to_quarters(end_s), quarters)) + 64)}")
    for sec in song.sections:
        a, b = round(sec.start_s * rate), round(sec.end_s * rate)
        if a < 0 or b <= a:
            raise ArdourError(f"section {sec.id!r} ({sec.name}): {sec.start_s:g}-{sec.end_s:g} s is not a span to mark")
        name = " ".join(str(sec.name).split())
        fields.append(f"section\t{a}\t{b}\t{name}")
    return fields


def push_live(session_dir: Path, song: Any, slot: int, osc: tuple[str, int], cfg: Path | None = None,
              timeout_s: float = 20.0) -> LivePush:
    """The song's tempo map and sections into the session the Ardour at ``osc`` has open (action ``slot``)."""
    session_dir = Path(session_dir)
    facts = session_facts(session_dir)
    fields = timeline_fields(song, facts.rate)
    answer = live.send(session_dir, slot, fields, osc=osc, timeout_s=timeout_s, cfg=cfg, version=VERSION)
    if not answer.ok:
        if answer.error.startswith("unknown request format"):
            raise ArdourError(OLD_ACTION)
        if answer.error.startswith("Ardour has ") and answer.session:
            raise OtherSession(f"Ardour refused the push: {answer.error}", answer.session)
        raise ArdourError(f"Ardour refused the push: {answer.error}")
    got = dict(answer.facts)
    if "markers" not in got:  # an action that took the request for a landing (none does; be sure)
        raise ArdourError(OLD_ACTION)

    def count(key: str) -> int:
        try:
            return int(got.get(key, "0"))
        except ValueError:
            return 0

    return LivePush(count("tempos"), count("markers"), count("replaced"), count("kept"), count("evened"),
                    answer.seconds)


def push_song(session_dir: Path, song: Any, osc: tuple[str, int] = ("127.0.0.1", 0),
              cfg: Path | None = None) -> tuple[int, str]:
    """The song's tempo map and sections into the linked session, by whichever route is safe now: the closed session
    file (``ardour_markers.push``) when nothing holds it, else the running Ardour GUI that has it open (its landing
    action); ``ardour7-lua`` or a headless Ardour holding it is refused. Returns (markers written, what was done)."""
    import os

    from daw_bridge.adapters.ardour_markers import push as push_closed
    from daw_bridge.adapters.ardour_route import gui_verdicts, osc_hint, refusal, resolve_osc

    session_dir = Path(session_dir)
    session_facts(session_dir)  # a clear error for a folder that is not a session
    tempo = ", ".join(f"{s.bpm:g} bpm {s.meter} at bar {s.bar}" for s in song.tempo.segments)
    with live.exclusive(session_dir / "songbridge" / ".landing.lock", str(session_dir)):
        why = refusal(session_dir)
        answered: dict[int, str] = {}
        if why:
            holding, unknown = gui_verdicts(session_dir)
            others = [p for p in live.processes() if p.kind != "gui" and p.holds(session_dir)]
            if others or not (holding or unknown):
                raise ArdourError(f"{why}; SongBridge did not touch it: push again when it has finished")
            slot = live.bound_slot(cfg)
            if slot is None:
                raise ArdourError(f"{why}, and the live route is not set up: quit Ardour and run `songbridge daw "
                                  "setup ardour` once (it binds SongBridge's landing action), then push again with "
                                  "Ardour open; or save and quit Ardour and push into the closed session")
            where = resolve_osc(session_dir, osc)
            try:
                got = push_live(session_dir, song, slot, where, cfg)
            except OtherSession as exc:
                owner = [p.pid for p, port in live.osc_listeners() if port == where[1]]
                answered = {owner[0]: os.path.realpath(exc.session)} if owner else {}
                still = refusal(session_dir, answered) if answered else why
                if still:
                    raise ArdourError(f"{exc}; and {still}") from None
            except ArdourError as exc:
                if "does not answer OSC" in str(exc):
                    raise ArdourError(f"{exc}{osc_hint(where)}") from None
                raise
            else:
                evened = f"; {got.evened} of the session's own tempo points set to the song's" if got.evened else ""
                return got.markers, (
                    f"{got.markers} sections as range markers ({TAG}<name>, {got.replaced} earlier ones replaced) "
                    f"and tempo {tempo} into {session_dir.name} through the running Ardour ({got.kept} of the "
                    f"producer's own markers left as they were{evened}; not an undo step in Ardour: Ardour 7.3's "
                    "Lua cannot make one for tempo or markers)")
        count = push_closed(session_dir, song)
        return count, (f"{count} sections as range markers ({TAG}<name>) and tempo {tempo} into the closed session "
                       f"{session_dir.name}")
