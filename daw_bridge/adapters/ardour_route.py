"""Which way a landing goes into an Ardour session, decided from what runs right now.

- An Ardour GUI that has this session open (its command line or open files name it), or may have (it names none),
  and the SongBridge action is bound: land through it (``ardour_live``). If it answers that it has another session
  open and nothing else holds ours, the closed route is safe. An Ardour whose command line opened another session
  is no reason to refuse (several may run; tests run their own).
- Such an Ardour runs and the action is not bound: refuse, saying how to set it up (Ardour 7 leaves no lock file).
- Ardour's OSC port: the one configured (``daw link --osc-port``), or found: the Ardour that opened this session, the
  only one listening (Ardour takes UDP 3819, or the next free port up to 3838); a landing that finds no answer says
  where Ardours on this machine do listen.
- ``ardour7-lua`` or a headless Ardour holds the session (its command line, script or open files name it): refuse.
- Nothing holds it: edit the closed session file (``ardour_closed``).

Stems at another rate than the session's are converted first (``rates.at_rate``, cached in the session), for both
routes. Positions are the song's: a section at the song's bar lands at the sample of that bar at the song's tempo, since
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
from daw_bridge.adapters.ardour import OSC_PORT, ArdourError, session_facts
from daw_bridge.adapters.ardour_closed import content_name, land_in_closed_session

TRACKS_SETTLE_S = 1.0  # after Ardour made tracks, before the landing: its auto-connect thread connects them
NO_RANGE = ("the session has no session range, so an export renders nothing: drag its start and end markers in "
            "Ardour (Locations window, Alt+L), or land once with the session closed (SongBridge then adds one)")


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
        removed = sum(1 for r in self.regions if r[4] == "removed")
        midi = sum(1 for r in self.regions if r[0].endswith("(MIDI)") and r[4] != "removed")
        text = (f"{len(self.regions) - removed} regions" + (f" ({midi} of them the guide's MIDI)" if midi else "") +
                f" at sample {self.position} in {self.session} ({how}, {self.seconds:.2f} s" +
                (f"; {reused} reused their sources" if reused else "") +
                (f"; the section's earlier MIDI left {removed} tracks" if removed else "") + ")")
        return text + (f". {self.tempo_note}" if self.tempo_note else "")


def tempo_note(session_bpm: float, session_meter: int, song_bpm: float, song_meter: int, start_s: float,
               song_bar: float) -> str:
    if abs(session_bpm - song_bpm) < 0.005 and session_meter == song_meter:
        return ""
    ardour_bar = start_s * session_bpm / 60.0 / max(session_meter, 1) + 1
    return (f"Ardour's grid here is {session_bpm:g} bpm {session_meter}/x, the song's is {song_bpm:g} bpm "
            f"{song_meter}/x: the song's bar {song_bar:g} landed where Ardour shows bar {ardour_bar:.2f}; set "
            f"the session's tempo to {song_bpm:g} bpm to line the grid up")


def gui_verdicts(session_dir: Path, answered: dict[int, str] | None = None) -> tuple[list, list]:
    """(Ardour GUIs that hold this session, GUIs that may): one holds it when its command line or open files name
    it, or it said so; it does not when its command line opened another session or it said it has another open
    (``answered``: pid -> the session folder it reported); any other may."""
    folder = os.path.realpath(session_dir)
    holding, unknown = [], []
    for p in live.processes():
        if p.kind != "gui":
            continue
        said = (answered or {}).get(p.pid)
        named = p.named_session()
        if p.holds(session_dir) or said == folder:
            holding.append(p)
        elif (named is not None and named != folder) or (said is not None and said != folder):
            continue
        else:
            unknown.append(p)
    return holding, unknown


def refusal(session_dir: Path, answered: dict[int, str] | None = None) -> str | None:
    """Why the session file must not be written now, or None: a program holds this session (an Ardour GUI whose
    command line, open files or own answer name it; ``ardour7-lua`` or headless Ardour likewise), or an Ardour GUI
    may (started without a session on its command line, and not asked). An Ardour with another session open is no
    reason: tests and producers may run several."""
    procs = live.processes()
    holding = [p for p in procs if p.kind != "gui" and p.holds(session_dir)]
    gui_holding, unknown = gui_verdicts(session_dir, answered)
    holding += gui_holding
    if holding:
        return (f"{holding[0].describe()} has {session_dir} open, and a running Ardour writes its session over any "
                "change made underneath it")
    if unknown:
        return (f"{unknown[0].describe()} is running and may have {session_dir} open (its command line names no "
                "session and it was not asked: Ardour 7 leaves no lock file to tell)")
    scripts = [p for p in procs if p.kind == "lua" and "?" in p.paths]
    if scripts:  # one that is ending may have had its script deleted already: only those still running count
        time.sleep(0.3)
        scripts = [p for p in scripts if live.alive(p.pid)]
    if scripts:
        return f"{scripts[0].describe()} runs a script SongBridge cannot read, which may hold {session_dir}"
    return None


def resolve_osc(session_dir: Path, osc: tuple[str, int]) -> tuple[str, int]:
    """The Ardour OSC address to use: the configured port, or (port 0: not configured) on this machine the port of
    the Ardour that opened this session, else of the only Ardour listening that did not open another, else 3819."""
    host, port = osc
    if port:
        return host, port
    if host not in ("127.0.0.1", "localhost", "::1"):
        return host, OSC_PORT
    folder = os.path.realpath(session_dir)
    # an Ardour whose command line opened another session is not the one to ask
    listening = [(p, port) for p, port in live.osc_listeners() if p.named_session() in (None, folder)]
    mine = [port for p, port in listening if p.named_session() == folder or p.holds(session_dir)]
    if mine:
        return host, mine[0]
    if len({port for _, port in listening}) == 1:
        return host, listening[0][1]
    return host, OSC_PORT


def osc_hint(osc: tuple[str, int]) -> str:
    """What to do when Ardour does not answer at ``osc``: the ports Ardours on this machine listen on."""
    others = [(p, port) for p, port in live.osc_listeners() if port != osc[1]]
    if others:
        where = ", ".join(f"{p.describe()} on UDP {port}" for p, port in others)
        return (f"; Ardour listens for OSC elsewhere ({where}): set that port with `songbridge daw link PROJECT "
                f"ardour SESSION --osc-port {others[0][1]}` or in the DAW link panel")
    return ("; turn on Open Sound Control in Ardour's Edit > Preferences > Control Surfaces (Ardour takes UDP 3819, "
            "or the next free port up to 3838 when another program has it)")


def land_stems(session_dir: Path, stems: dict[str, Path], start_s: float, end_s: float, tag: str, take: str,
               song_bpm: float, song_meter: int, song_bar: float, cfg: Path | None = None,
               osc: tuple[str, int] = ("127.0.0.1", 0), timeout_s: float = 20.0,
               midi: dict[str, Path] | None = None) -> Landing:
    """Land rendered stems (track name -> WAV) into the Ardour session at ``session_dir`` at the song's time; one
    landing at a time into a session, whichever program asks. ``osc``: Ardour's OSC host and port (0: find it).
    ``midi``: MIDI track name -> a part of the guide's MIDI (``ardour_midi.write_parts``), landed with the stems at
    the same sample on MIDI tracks, through the same route, replacing the section's earlier MIDI regions (empty: a
    take without MIDI, the section's earlier MIDI regions go; None: MIDI tracks are left alone)."""
    session_dir = Path(session_dir)
    began = time.monotonic()
    session_facts(session_dir)  # a clear error before anything is created in a folder that is not a session
    with live.exclusive(session_dir / "songbridge" / ".landing.lock", str(session_dir)):
        return _land(session_dir, stems, start_s, end_s, tag, take, song_bpm, song_meter, song_bar, cfg,
                     resolve_osc(session_dir, osc), timeout_s, began, midi)


def _land(session_dir: Path, stems: dict[str, Path], start_s: float, end_s: float, tag: str, take: str,
          song_bpm: float, song_meter: int, song_bar: float, cfg: Path | None, osc: tuple[str, int],
          timeout_s: float, began: float, midi: dict[str, Path] | None) -> Landing:
    facts = session_facts(session_dir)
    start, end = round(start_s * facts.rate), round(end_s * facts.rate)
    from daw_bridge.adapters.rates import RATES_DIR, at_rate

    # at the session's rate before either route sees them: once per take and rate (cached in the session)
    stems, _ = at_rate(stems, facts.rate, session_dir / "songbridge" / RATES_DIR)
    holding, unknown = gui_verdicts(session_dir)
    guis = holding + unknown
    slot = live.bound_slot(cfg) if guis else None
    answered: dict[int, str] = {}
    if guis and slot is None:
        how = "has" if holding else "is running and may have"
        raise ArdourError(
            f"{guis[0].describe()} {how} {session_dir.name} open, so SongBridge will not write "
            "its session file, and the live route is not set up: quit Ardour and run `songbridge daw setup "
            "ardour` once (it binds SongBridge's landing action), then land again with Ardour open; or save and "
            "quit Ardour and land into the closed session")
    if guis and slot is not None:
        staged = _stage(session_dir, stems, tag, take)
        try:
            try:
                made = live.ask(session_dir, "tracks", slot, osc=osc, timeout_s=timeout_s, stems=staged, cfg=cfg,
                                midi=midi)
                if made.ok and made.created:
                    time.sleep(TRACKS_SETTLE_S)  # Ardour connects new tracks' outputs from another thread
                answer = live.ask(session_dir, "land", slot, osc=osc, timeout_s=timeout_s, start=start, end=end,
                                  tag=tag, stems=staged, cfg=cfg, midi=midi)
            except ArdourError as exc:
                if "does not answer OSC" in str(exc):
                    raise ArdourError(f"{exc}{osc_hint(osc)}") from None
                raise
        finally:
            for path in staged.values():
                path.unlink(missing_ok=True)
        if answer.ok:
            note = tempo_note(answer.bpm, answer.meter, song_bpm, song_meter, start_s, song_bar)
            if answer.session_range == "none":
                note = "; ".join(filter(None, (note, NO_RANGE)))
            if midi and not any(r.track in midi for r in answer.regions):
                note = "; ".join(filter(None, (note, "the guide's MIDI did not land: Ardour runs SongBridge's landing "
                                                     "action from before MIDI; quit Ardour, run `songbridge daw setup "
                                                     "ardour` again and land again")))
            if answer.unconnected:
                note = "; ".join(filter(None, (note, f"the outputs of {answer.unconnected} go nowhere and JACK "
                                                     "refused to connect them to the master: connect them in "
                                                     "Ardour's mixer, or they play silence")))
            return Landing("live", tuple((r.track, r.region, r.position, r.length, r.how) for r in answer.regions),
                           start, session_dir, time.monotonic() - began, note)
        other_session = answer.error.startswith("Ardour has ")
        owner = [p.pid for p, port in live.osc_listeners() if port == osc[1]]
        if other_session and answer.session and owner:
            answered = {owner[0]: os.path.realpath(answer.session)}
        if not other_session or refusal(session_dir, answered):
            why = refusal(session_dir, answered) if other_session else ""
            raise ArdourError(f"Ardour refused the landing: {answer.error}" + (f"; and {why}" if why else ""))
    else:
        why = refusal(session_dir)
        if why:
            raise ArdourError(f"{why}; SongBridge did not touch it. Wait until it has finished, or land through a "
                              "running Ardour GUI (songbridge daw setup ardour)")

    def still_free() -> str | None:
        return refusal(session_dir, answered)

    regions = land_in_closed_session(session_dir, facts.name, stems, start, tag, take, end, still_free, midi)
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
