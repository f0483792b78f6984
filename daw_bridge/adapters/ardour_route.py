"""Which way a landing goes into an Ardour session, decided from what runs right now.

- An Ardour GUI runs and the SongBridge action is bound: land through it (``ardour_live``). If it answers that it
  has another session open and nothing else holds ours, the closed route is safe.
- An Ardour GUI runs and the action is not bound: refuse, saying how to set it up, since the session may be the one
  it has open (Ardour 7 leaves no lock file to tell).
- ``ardour7-lua`` or a headless Ardour holds the session (its command line, script or open files name it): refuse.
- Nothing holds it: edit the closed session file (``ardour_closed``).

Positions are the song's: a section at the song's bar lands at the sample of that bar at the song's tempo, since
the audio was rendered at that tempo. When the session's tempo or meter differ, the result says so (with the bar
Ardour shows there), and the producer can set Ardour's tempo to match.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from daw_bridge.adapters import ardour_live as live
from daw_bridge.adapters.ardour import ArdourError, session_facts
from daw_bridge.adapters.ardour_closed import content_name, land_in_closed_session


@dataclass(frozen=True)
class Landing:
    route: str  # "live" (through the running Ardour) or "closed" (the session file)
    regions: tuple[tuple[str, str, int, int, str], ...]  # track, region, sample, length, imported|reused
    position: int
    session: Path
    seconds: float
    tempo_note: str  # "" when Ardour's grid matches the song's

    def describe(self) -> str:
        how = "into the running Ardour" if self.route == "live" else "into the closed session file"
        reused = sum(1 for r in self.regions if r[4] == "reused")
        text = (f"{len(self.regions)} regions at sample {self.position} in {self.session} ({how}, "
                f"{self.seconds:.2f} s" + (f"; {reused} reused their sources" if reused else "") + ")")
        return text + (f". {self.tempo_note}" if self.tempo_note else "")


def tempo_note(session_bpm: float, session_meter: int, song_bpm: float, song_meter: int, start_s: float,
               song_bar: float) -> str:
    if abs(session_bpm - song_bpm) < 0.005 and session_meter == song_meter:
        return ""
    ardour_bar = start_s * session_bpm / 60.0 / max(session_meter, 1) + 1
    return (f"Ardour's grid here is {session_bpm:g} bpm {session_meter}/x, the song's is {song_bpm:g} bpm "
            f"{song_meter}/x: the song's bar {song_bar:g} landed where Ardour shows bar {ardour_bar:.2f}; set "
            f"the session's tempo to {song_bpm:g} bpm to line the grid up")


def refusal(session_dir: Path, gui_may_hold: bool = True) -> str | None:
    """Why the session file must not be written now, or None. ``gui_may_hold=False`` when the running Ardour GUI
    said it has another session open."""
    procs = live.processes()
    holding = [p for p in procs if p.holds(session_dir)]
    if holding:
        return (f"{holding[0].describe()} has {session_dir} open, and a running Ardour writes its session over any "
                "change made underneath it")
    guis = [p for p in procs if p.kind == "gui"]
    if guis and gui_may_hold:
        return (f"{guis[0].describe()} is running and may have {session_dir} open (Ardour 7 leaves no lock file "
                "to tell)")
    unknown = [p for p in procs if p.kind == "lua" and "?" in p.paths]
    if unknown:
        return f"{unknown[0].describe()} runs a script SongBridge cannot read, which may hold {session_dir}"
    return None


def land_stems(session_dir: Path, stems: dict[str, Path], start_s: float, end_s: float, tag: str, take: str,
               song_bpm: float, song_meter: int, song_bar: float, cfg: Path | None = None,
               osc: tuple[str, int] = ("127.0.0.1", 3819), timeout_s: float = 20.0) -> Landing:
    """Land rendered stems (track name -> WAV) into the Ardour session at ``session_dir`` at the song's time; one
    landing at a time into a session, whichever program asks."""
    session_dir = Path(session_dir)
    began = time.monotonic()
    session_facts(session_dir)  # a clear error before anything is created in a folder that is not a session
    with live.exclusive(session_dir / "songbridge" / ".landing.lock", str(session_dir)):
        return _land(session_dir, stems, start_s, end_s, tag, take, song_bpm, song_meter, song_bar, cfg, osc,
                     timeout_s, began)


def _land(session_dir: Path, stems: dict[str, Path], start_s: float, end_s: float, tag: str, take: str,
          song_bpm: float, song_meter: int, song_bar: float, cfg: Path | None, osc: tuple[str, int],
          timeout_s: float, began: float) -> Landing:
    facts = session_facts(session_dir)
    start, end = round(start_s * facts.rate), round(end_s * facts.rate)
    guis = [p for p in live.processes() if p.kind == "gui"]
    slot = live.bound_slot(cfg) if guis else None
    if guis and slot is None:
        raise ArdourError(
            f"{guis[0].describe()} is running and may have {session_dir.name} open, so SongBridge will not write "
            "its session file, and the live route is not set up: quit Ardour and run `songbridge daw setup "
            "ardour` once (it binds SongBridge's landing action), then land again with Ardour open; or save and "
            "quit Ardour and land into the closed session")
    if guis:
        staged = _stage(session_dir, stems, tag, take)
        try:
            answer = live.ask(session_dir, "land", slot, osc=osc, timeout_s=timeout_s, start=start, end=end, tag=tag,
                              stems=staged, cfg=cfg)
        finally:
            for path in staged.values():
                path.unlink(missing_ok=True)
        if answer.ok:
            return Landing("live", tuple((r.track, r.region, r.position, r.length, r.how) for r in answer.regions),
                           start, session_dir, time.monotonic() - began,
                           tempo_note(answer.bpm, answer.meter, song_bpm, song_meter, start_s, song_bar))
        other_session = answer.error.startswith("Ardour has ")
        if not other_session or refusal(session_dir, gui_may_hold=False):
            raise ArdourError(f"Ardour refused the landing: {answer.error}")
    else:
        why = refusal(session_dir)
        if why:
            raise ArdourError(f"{why}; SongBridge did not touch it. Wait until it has finished, or land through a "
                              "running Ardour GUI (songbridge daw setup ardour)")

    def still_free() -> str | None:
        return refusal(session_dir, gui_may_hold=not guis)

    regions = land_in_closed_session(session_dir, facts.name, stems, start, tag, take, end, still_free)
    return Landing("closed", tuple((r.track, r.region, r.position, r.length, r.how) for r in regions), start,
                   session_dir, time.monotonic() - began,
                   tempo_note(facts.bpm, facts.beats_per_bar, song_bpm, song_meter, start_s, song_bar))


def _stage(session_dir: Path, stems: dict[str, Path], tag: str, take: str) -> dict[str, Path]:
    """Copies named by content for Ardour to import (it copies them into the session; these go afterwards)."""
    folder = session_dir / "songbridge" / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    staged = {}
    for track, wav in stems.items():
        stem = track.split(" ", 1)[-1]
        target = folder / content_name(wav, f"{tag}{take}-{stem}" if take else f"{tag}{stem}")
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(wav, tmp)
        os.replace(tmp, target)
        staged[track] = target
    return staged
