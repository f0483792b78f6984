"""What an Ardour link can do right now, checked, not assumed: the session file and its rate and tempo, whether
Ardour answers OSC where the link says (and where Ardours on this machine do listen), which session it has open
(asked through the landing action), whether that action is bound, the engine's rate against the session's, and
whether the closed file may be written, and the MIDI connection. Each check is one line with what to do when it fails; ``daw status`` prints
them all, the DAW link panel's Test shows them and the first failure's advice."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Check:
    name: str  # "session", "osc", "open", "action", "rate", "closed"
    ok: bool
    text: str  # what was found, and when not ok what to do


def midi_check(folder: Path | None = None, client: str = "SongBridge") -> Check:
    """SongBridge's MIDI ports in the running JACK server and what they are connected to (and, with the project's
    ``folder``, what the project remembers: made again when the app or ``serve`` starts)."""
    from daw_bridge.midi import connections as mc

    remembered = ""
    if folder is not None:
        try:
            mem = mc.read(folder)
            ins = [f"{x} -> {client}:in" for x in mem["in"]] + [f"{client}-out:out -> {x}" for x in mem["out"]]
            remembered = "; the project remembers " + (", ".join(ins) if ins else "no connection")
        except mc.ConnectionsFileError as exc:
            return Check("midi", False, f"{exc}: fix or delete it (SongBridge writes it again)")
    try:
        import jack

        jack.set_error_function(lambda _msg: None)  # "cannot connect to server": said below, in a sentence
        jack.set_info_function(lambda _msg: None)
        try:
            c = jack.Client("SongBridge-status", no_start_server=True)
        finally:
            jack.set_error_function(None)
            jack.set_info_function(None)
    except Exception:  # noqa: BLE001 - jack.JackOpenError: no server
        return Check("midi", True, "no JACK server runs: MIDI clock is not followed (Ardour's own OSC feedback is, "
                                   "with following on)" + remembered)
    try:
        names = {x.name for x in c.get_ports(is_midi=True)}
        mine = f"{client}:in"
        if mine not in names:
            return Check("midi", True, f"{mine} is not open (the app or `songbridge serve --midi jack` opens it)"
                         + remembered)
        now = sorted(x.name for x in c.get_all_connections(mine))
        if not now:
            return Check("midi", True, f"nothing is connected to {mine}: connect Ardour's MIDI clock out to it to "
                                       "follow its clock (Ardour's OSC feedback is followed anyway)" + remembered)
        return Check("midi", True, ", ".join(f"{x} -> {mine}" for x in now) + remembered)
    finally:
        c.close()


def ardour_checks(song: Any, cfg: Path | None = None, ping_timeout_s: float = 5.0,
                  project: Path | None = None) -> list[Check]:
    from daw_bridge.adapters import ardour_live as live
    from daw_bridge.adapters.ardour import ArdourError, ArdourOsc, session_facts
    from daw_bridge.adapters.ardour_route import gui_verdicts, osc_hint, refusal, resolve_osc
    from daw_bridge.adapters.rates import jack_rate

    daw = song.daw
    if not daw.session:
        return [Check("session", False, "no session folder set: `songbridge daw link PROJECT ardour SESSION "
                                        "[--create]`, or the DAW link panel")]
    folder = Path(daw.session)
    try:
        facts = session_facts(folder)
    except ArdourError as exc:
        return [Check("session", False, f"{exc}: link an existing session, or add --create to make one")]
    out = [Check("session", True, f"{folder} ({facts.rate} Hz, {facts.bpm:g} bpm, {facts.beats_per_bar} beats a "
                                  f"bar; the song: {song.tempo.bpm:g} bpm {song.tempo.meter})")]
    host, port = resolve_osc(folder, (daw.host, daw.port))
    where = f"{host}:{port}" + ("" if daw.port else " (found: no port set)")
    answers = False
    try:
        link = ArdourOsc(host, port)
        try:
            frame = link.frame(timeout=1.5)
            answers = True
        finally:
            link.close()
        out.append(Check("osc", True, f"Ardour answers OSC at {where} (play head at sample {frame})"))
    except (ArdourError, OSError) as exc:
        holding, unknown = gui_verdicts(folder)
        if holding or unknown:  # an Ardour that has (or may have) this session, and we cannot reach it
            out.append(Check("osc", False, f"no Ardour answers OSC at {where} ({exc})" + osc_hint((host, port))))
        else:
            out.append(Check("osc", True, "no Ardour has this session open: landings go into the closed session "
                                          "file"))
    try:
        slot = live.bound_slot(cfg)
    except ArdourError as exc:
        slot = None
        out.append(Check("action", False, str(exc)))
    else:
        holding, unknown = gui_verdicts(folder)
        if slot is not None:
            out.append(Check("action", True, f"SongBridge's landing action is bound to slot {slot} "
                                             f"(LuaAction/script-{slot})"))
        else:
            out.append(Check("action", not (holding or unknown), "the landing action is not bound (needed while "
                             "Ardour has this session open): quit Ardour and run `songbridge daw setup ardour` "
                             "once"))
    answered: dict[int, str] = {}
    if answers and slot is not None:
        try:
            ping = live.ask(folder, "ping", slot, osc=(host, port), timeout_s=ping_timeout_s, cfg=cfg)
        except ArdourError as exc:
            out.append(Check("open", False, f"Ardour did not answer the landing action ({exc}); is the action "
                                            "bound in this Ardour (Edit > Lua Scripts > Script Manager)?"))
        else:
            mine = os.path.realpath(folder)
            has = os.path.realpath(ping.session) if ping.session else ""
            owner = [p.pid for p, p_port in live.osc_listeners() if p_port == port]
            if owner and has:
                answered[owner[0]] = has
            if has == mine:
                out.append(Check("open", True, f"Ardour has this session open: landings go through it ({ping.rate} "
                                               "Hz)"))
            else:
                out.append(Check("open", True, f"Ardour has {has or 'another session'} open, not this one: landings "
                                               "go into this session's closed file"))
    rate = jack_rate()
    if rate is None:
        out.append(Check("rate", True, f"no JACK server runs; the session runs at {facts.rate} Hz (stems are "
                                       "converted to it when they land)"))
    elif rate != facts.rate:
        out.append(Check("rate", False, f"JACK runs at {rate} Hz and the session at {facts.rate} Hz: Ardour opens it "
                                        "behind a sample-rate mismatch dialog and its MIDI clock sends no ticks; "
                                        f"restart JACK at {facts.rate} Hz, or make a session at {rate} Hz "
                                        f"(`songbridge daw link PROJECT ardour NEW_SESSION --create`)"))
    else:
        out.append(Check("rate", True, f"JACK and the session both run at {rate} Hz"))
    out.append(midi_check(project))
    why = refusal(folder, answered)
    out.append(Check("closed", True, f"the closed file may not be written now: {why}" if why else
                     "nothing holds the session file: a landing may write it"))
    return out
